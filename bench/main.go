//go:build linux

// Command bench measures what the wechatpay handler costs on top of the
// unavoidable crypto of a presign request (one RSA-2048 signature, five
// RSA-OAEP-SHA1 encryptions, one signature verification).
//
//	go run ./bench            # full run, about 6-8 minutes
//	go run ./bench --quick    # smoke test, about a minute
//
// It builds Caddy with the module from this working tree (bench/caddybin)
// and the peer proxy (bench/peer), and, where a C compiler and libcrypto
// are, this program and bench/caddybin a second time with cgo and the tag
// openssl (openssl.go; without them the OpenSSL rows are skipped with a line
// that says why). Then it runs closed-loop load with N clients for T seconds
// against, in turn and interleaved over R rounds:
//
//  1. floor:  the per-request crypto alone, in-process, no HTTP;
//     floor-openssl (row 1o): the same, the merchant signature through
//     OpenSSL's libcrypto (the OpenSSL build of this program);
//  2. caddy:  plain Caddy reverse_proxy, no wechatpay handler;
//  3. ideal:  diagnostic (row 2c of the table): Caddy with a bench-only
//     handler (bench/idealhandler) before reverse_proxy that reads the
//     body, does exactly the floor's crypto (bench/floorcrypto, shared)
//     and forwards the original body, no JSON, no headers: the least any
//     Caddy handler doing this crypto could cost, so that ideal / module
//     tells the module's own cost apart from what the crypto costs inside
//     a busy Caddy process;
//  4. peer:   httputil.ReverseProxy + gjson/sjson + wechatpay-go v0.2.20;
//  5. module: Caddy with the wechatpay handler before reverse_proxy;
//     module-openssl (row 4o): the same module and configuration in the
//     OpenSSL build of Caddy, whose merchant signatures go through
//     libcrypto (its log must say so, or the run fails its check).
//
// The server under test (and the floor process) is pinned to one core with
// taskset and GOMAXPROCS=1; the load generator and the upstream stand-in
// (bench/upstream) share another core. The stand-in signs every answer with
// a nonce of its own, as WeChat Pay does (the module refuses a signature it
// accepted before): for a row whose proxy verifies answers, a pool of them
// is signed before the run, on both cores while no server runs, sized from
// the floor's rate with a margin; a pool that runs out fails the run rather
// than send a signature twice (standin.go). A fresh server process serves
// every run, so its VmHWM is the run's peak RSS, and its utime+stime over the
// measured window divided by the requests completed in it is the CPU time per
// request. Every answer, warm-up included, is checked (status 200 and the
// stand-in's body), and one request per run is checked at the stand-in.
//
// Then an RSS phase (256 clients, plain Caddy vs module) and a claims phase
// (256 connections that claim a 1 MiB body, send 1 KiB and stall) show the
// memory goals. It prints one table with the ratios and goals (module / peer
// throughput, CPU efficiency, peak RSS, claims heap; and for the OpenSSL
// build, requests per CPU-second against the pure-Go module and CPU
// efficiency against its own floor), writes the raw results to bench/out/
// and the chart to docs/bench.svg.
//
//	go run ./bench -latency  # the latency a legacy app sees, about 1-2 minutes
//
// measures latency instead of CPU: the stand-in serves TLS (throwaway CA,
// HTTP/2 by ALPN) behind a relay emulating a 30 ms round-trip link
// (bench/relay), and sequential presign calls are timed for an app that
// signs itself with the official SDK over a new TLS connection per call, the
// same over a pooled connection, and an app that calls the local proxy (Caddy
// with the module) over a new plain HTTP connection per call. See latency.go.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

type options struct {
	Clients     int           `json:"clients"`
	Duration    time.Duration `json:"duration"`
	Warmup      time.Duration `json:"warmup"`
	Rounds      int           `json:"rounds"`
	Paced       bool          `json:"paced"`
	RSS         bool          `json:"rss"`
	RSSClients  int           `json:"rss_clients"`
	RSSDuration time.Duration `json:"rss_duration"`
	Claims      bool          `json:"claims"`
	ClaimsConns int           `json:"claims_conns"`
	ClaimsStall time.Duration `json:"claims_stall"`
	Quick       bool          `json:"quick"`
	Profile     bool          `json:"profile"`
	ProfileTime time.Duration `json:"profile_duration"`
	ServerCPU   int           `json:"server_cpu"`
	ClientCPU   int           `json:"client_cpu"`
	Caddy       string        `json:"caddy"`
	// CaddyOpenSSL and BenchOpenSSL are the OpenSSL builds (cgo, tag
	// openssl) of bench/caddybin and of this program, OpenSSL what
	// libcrypto they load or why the OpenSSL rows are skipped.
	CaddyOpenSSL string        `json:"caddy_openssl,omitempty"`
	BenchOpenSSL string        `json:"bench_openssl,omitempty"`
	OpenSSL      string        `json:"openssl,omitempty"`
	SVG          string        `json:"-"`
	Out          string        `json:"-"`
	Rows         string        `json:"rows"`
	Soak         time.Duration `json:"soak,omitempty"`
	SoakClients  int           `json:"soak_clients,omitempty"`

	Latency       bool          `json:"latency,omitempty"`
	LatencyCalls  int           `json:"latency_calls,omitempty"`
	LatencyRounds int           `json:"latency_rounds,omitempty"`
	LatencyWarmup int           `json:"latency_warmup,omitempty"`
	LatencyRTT    time.Duration `json:"latency_rtt,omitempty"`
	LatencyMax    time.Duration `json:"latency_max,omitempty"`
	LatencyModes  string        `json:"latency_modes,omitempty"`
}

const pinnedEnv = "CADDY_WECHATPAY_BENCH_PINNED"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case floorCommand:
			floorMain(os.Args[2:])
			return
		case presignCommand:
			presignMain(os.Args[2:])
			return
		case backendCommand:
			backendMain()
			return
		}
	}
	var o options
	flag.IntVar(&o.Clients, "c", 32, "concurrent closed-loop clients for the throughput rows")
	flag.DurationVar(&o.Duration, "t", 10*time.Second, "measured time of each run")
	flag.DurationVar(&o.Warmup, "warmup", 2*time.Second, "warm-up before each measured window")
	flag.IntVar(&o.Rounds, "rounds", 3, "rounds of interleaved runs (floor, caddy, ideal, peer, module); medians are printed")
	flag.BoolVar(&o.Paced, "paced", true, "also run plain Caddy paced to the module's request rate (diagnostic row: proxy cost at that rate)")
	flag.BoolVar(&o.RSS, "rss", true, "run the RSS phase: plain Caddy vs module under -rss-clients clients")
	flag.IntVar(&o.RSSClients, "rss-clients", 256, "clients of the RSS phase")
	flag.DurationVar(&o.RSSDuration, "rss-t", 10*time.Second, "measured time of each RSS-phase run")
	flag.BoolVar(&o.Claims, "claims", true, "run the claims phase: connections that claim a max_body-sized body, send 1 KiB and stall")
	flag.IntVar(&o.ClaimsConns, "claims-conns", 256, "connections of the claims phase")
	flag.DurationVar(&o.ClaimsStall, "claims-stall", 3*time.Second, "how long the claims-phase connections stall")
	flag.BoolVar(&o.Quick, "quick", false, "smoke test (~30 s): 1 round of 2 s runs, short RSS and claims phases")
	flag.BoolVar(&o.Profile, "profile", false, "also profile plain Caddy and the module (pprof CPU + allocs via the admin endpoint) into bench/out/profile/")
	flag.DurationVar(&o.ProfileTime, "profile-t", 20*time.Second, "length of each profiled run")
	flag.IntVar(&o.ServerCPU, "server-cpu", 1, "CPU the server under test and the floor are pinned to")
	flag.IntVar(&o.ClientCPU, "client-cpu", 0, "CPU the load generator and the upstream stand-in are pinned to")
	flag.StringVar(&o.Caddy, "caddy", "", "Caddy binary with the module (default: build bench/caddybin from this tree)")
	flag.StringVar(&o.CaddyOpenSSL, "caddy-openssl", "", "Caddy binary with the module built with cgo and the tag openssl, for the module-openssl row (default: build bench/caddybin so)")
	flag.StringVar(&o.BenchOpenSSL, "bench-openssl", "", "set by the harness: this program built with cgo and the tag openssl (floor-openssl row, signing the stand-in's answers)")
	flag.StringVar(&o.OpenSSL, "openssl-status", "", "set by the harness: the libcrypto the OpenSSL rows load, or why they are skipped")
	flag.StringVar(&o.SVG, "svg", "docs/bench.svg", "where to write the chart (\"\" for none)")
	flag.StringVar(&o.Out, "out", "bench/out", "directory for binaries, logs, profiles and JSON results")
	flag.DurationVar(&o.Soak, "soak", 0, "instead of the table, soak the module: -soak-clients clients for this long, RSS sampled every 5 s; fails on any error or RSS growth")
	flag.IntVar(&o.SoakClients, "soak-clients", 64, "clients of the soak")
	flag.BoolVar(&o.Latency, "latency", false, "instead of the table, measure the latency a legacy app sees per call over an emulated -latency-rtt link (about 1-2 minutes)")
	flag.IntVar(&o.LatencyCalls, "latency-calls", 200, "measured sequential calls per latency mode")
	flag.IntVar(&o.LatencyRounds, "latency-rounds", 5, "rounds the latency calls are split into, rotating the order of the modes")
	flag.IntVar(&o.LatencyWarmup, "latency-warmup", 10, "unmeasured calls per latency mode before the rounds")
	flag.DurationVar(&o.LatencyRTT, "latency-rtt", 30*time.Millisecond, "round trip of the emulated link to the stand-in")
	flag.DurationVar(&o.LatencyMax, "latency-max", 100*time.Second, "time bound of the measured latency rounds: the run stops (and fails) past it")
	flag.StringVar(&o.LatencyModes, "latency-modes", strings.Join(latencyModeNames, ","), "latency modes, in order")
	from := flag.String("from", "", "print the table and write the chart from a saved results JSON (bench/out/results-*.json) instead of running")
	flag.StringVar(&o.Rows, "rows", "floor,floor-openssl,caddy,ideal,peer,module,module-openssl",
		"rows of the throughput table, in order (the -openssl rows are dropped, with a line saying why, where cgo or libcrypto is missing)")
	flag.Parse()
	if o.Quick {
		setIfDefault := func(name string, set func()) {
			explicit := false
			flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == name })
			if !explicit {
				set()
			}
		}
		setIfDefault("t", func() { o.Duration = 2 * time.Second })
		setIfDefault("warmup", func() { o.Warmup = 500 * time.Millisecond })
		setIfDefault("rounds", func() { o.Rounds = 1 })
		setIfDefault("rss-t", func() { o.RSSDuration = 1500 * time.Millisecond })
		setIfDefault("claims-stall", func() { o.ClaimsStall = 1500 * time.Millisecond })
		setIfDefault("latency-calls", func() { o.LatencyCalls = 40 })
		setIfDefault("latency-rounds", func() { o.LatencyRounds = 2 })
		setIfDefault("latency-warmup", func() { o.LatencyWarmup = 3 })
	}
	if o.Rounds < 1 || o.Clients < 1 || o.Duration <= 0 {
		fatalf("bench: -rounds, -c and -t must be positive")
	}
	if o.Soak > maxPooledRun {
		fatalf("bench: -soak %s: at most %s, since the stand-in signs a soak's answers ahead at one timestamp, which WeChat Pay's 300 s bound", o.Soak, maxPooledRun)
	}
	if o.LatencyCalls < 1 || o.LatencyRounds < 1 || o.LatencyRounds > o.LatencyCalls || o.LatencyWarmup < 0 || o.LatencyRTT < 0 {
		fatalf("bench: -latency-calls and -latency-rounds must be positive (rounds <= calls), -latency-warmup and -latency-rtt not negative")
	}

	root, err := repoRoot()
	if err != nil {
		fatalf("bench: %v", err)
	}
	if err := os.Chdir(root); err != nil {
		fatalf("bench: %v", err)
	}
	o.Out = absPath(o.Out)
	if o.SVG != "" {
		o.SVG = absPath(o.SVG)
	}

	if *from != "" {
		rerender(*from, o.SVG)
		return
	}
	if os.Getenv(pinnedEnv) == "" {
		prepare(&o)
		pinSelf(o)
		// pinSelf returns only when taskset is missing: run unpinned.
	}
	if o.Latency {
		runLatency(o)
		return
	}
	run(o)
}

// prepare builds the binaries and the throwaway credentials, before the
// process pins itself to the client core.
func prepare(o *options) {
	bin := filepath.Join(o.Out, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		fatalf("bench: %v", err)
	}
	if o.Caddy == "" {
		step("building Caddy with the wechatpay module (bench/caddybin)")
		goBuild(filepath.Join(bin, "caddy"), "./bench/caddybin")
	}
	switch {
	case o.Soak > 0:
		// Only the OpenSSL build's signer, 3-4 times faster at signing the
		// soak's answers ahead.
		prepareOpenSSL(o, bin, false)
	case !o.Latency:
		step("building the peer (bench/peer)")
		goBuild(filepath.Join(bin, "peer"), "./bench/peer")
		prepareOpenSSL(o, bin, true)
	}
	if _, err := sandbox.LoadOrGenerateCredentials(filepath.Join(o.Out, "creds"), ""); err != nil {
		fatalf("bench: throwaway credentials: %v", err)
	}
}

func goBuild(out, pkg string) {
	if err := goBuildEnv(out, pkg, nil); err != nil {
		fatalf("bench: go build %s: %v", pkg, err)
	}
}

// goBuildEnv builds pkg into out with extra environment and go build flags
// (before the package).
func goBuildEnv(out, pkg string, env []string, flags ...string) error {
	start := time.Now()
	cmd := exec.Command("go", append(append([]string{"build", "-trimpath"}, flags...), "-o", out, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "        built %s in %.1fs\n", strings.Join(append(append(env, flags...), pkg), " "), time.Since(start).Seconds())
	return nil
}

// pinSelf re-executes this program under taskset on the client core with
// GOMAXPROCS=1, so that the load generator and the upstream stand-in never
// run on the server's core.
func pinSelf(o options) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: taskset not found: running unpinned, single-core figures will be meaningless")
		return
	}
	self, err := os.Executable()
	if err != nil {
		fatalf("bench: %v", err)
	}
	args := append([]string{"taskset", "-c", strconv.Itoa(o.ClientCPU), self}, os.Args[1:]...)
	if o.Caddy == "" {
		args = append(args, "-caddy", filepath.Join(o.Out, "bin", "caddy"))
	}
	// What prepare found out about OpenSSL.
	args = append(args, "-rows", o.Rows, "-caddy-openssl", o.CaddyOpenSSL, "-bench-openssl", o.BenchOpenSSL,
		"-openssl-status", o.OpenSSL)
	env := append(os.Environ(), pinnedEnv+"=1", "GOMAXPROCS=1")
	fatalf("bench: exec taskset: %v", syscall.Exec(taskset, args, env))
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/caddy-wechatpay/caddy-wechatpay\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the caddy-wechatpay checkout")
		}
		dir = parent
	}
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		fatalf("bench: %v", err)
	}
	return a
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	stopAll()
	os.Exit(1)
}

// machine describes where the figures come from.
type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Date      string `json:"date"`
	LoadAvg   string `json:"loadavg_at_start"`
	ServerCPU int    `json:"server_cpu"`
	ClientCPU int    `json:"client_cpu"`
}

func describeMachine(o options) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().Format("2006-01-02 15:04 MST"),
		ServerCPU: o.ServerCPU, ClientCPU: o.ClientCPU}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if n, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(n))
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(l))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if out, err := exec.Command("nproc", "--all").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.Cores = n
		}
	}
	return m
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

//go:build linux

package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// The stand-in's answers are signed ahead of each run (bench/upstream): every
// answer a proxy that verifies gets has a nonce of its own, as WeChat Pay's
// have, since the module refuses a signature it accepted before, and no RSA
// signature lands on the client core while a run is measured. Before a run
// of a row whose proxy verifies answers (rowSpec.verifies), the harness
// sizes a pool for it (poolSize), signs it in a process of its own on both
// cores while no server runs (presignCommand), and gives it to the stand-in,
// which hands out each answer once and answers 503 when the pool is used
// up; the run then fails (poolCheck). A row whose proxy forwards answers
// without verifying them (plain Caddy, the ideal row) gets one fixed answer.

// presignCommand is the hidden subcommand that signs a pool of answers and
// writes it to stdout (upstream.Pool.WriteTo).
const presignCommand = "__presign"

// poolMargin multiplies the most requests a row can complete when sizing
// its pool.
const poolMargin = 1.4

// maxPooledRun bounds a run that draws from one pool: its answers share one
// timestamp, which must stay inside WeChat Pay's 300 s (upstream.StaleAfter)
// until the last answer, signing time included.
const maxPooledRun = 4 * time.Minute

// rowSpec says what a row needs from the stand-in.
type rowSpec struct {
	// build is the crypto build whose floor bounds the row's rate: "go" or
	// "openssl"; "" for a row that does not verify answers.
	build string
	// verifies: the row's proxy verifies the answers, so each must carry a
	// signature of its own.
	verifies bool
}

var rowSpecs = map[string]rowSpec{
	"floor":          {build: "go"},
	"floor-openssl":  {build: "openssl"},
	"caddy":          {},
	"ideal":          {},
	"peer":           {build: "go", verifies: true},
	"module":         {build: "go", verifies: true},
	"module-openssl": {build: "openssl", verifies: true},
}

// presignMain signs -n answers at the current second on -workers goroutines
// with the WeChat Pay key of -creds (rsacrypto: crypto/rsa, or OpenSSL in a
// build with the tag openssl) and writes the pool to stdout.
func presignMain(args []string) {
	fs := flag.NewFlagSet(presignCommand, flag.ExitOnError)
	dir := fs.String("creds", "", "credentials directory")
	n := fs.Int("n", 1000, "answers to sign")
	workers := fs.Int("workers", 2, "signing goroutines")
	_ = fs.Parse(args)
	creds, err := sandbox.LoadCredentials(*dir)
	if err != nil {
		fatalf("presign: %v", err)
	}
	k, err := rsacrypto.NewPrivateKey(creds.PublicKeyPrivateKey)
	if err != nil {
		fatalf("presign: %v", err)
	}
	pool, err := upstream.Presign(k.SignPKCS1v15SHA256, time.Now().Unix(), *n, *workers)
	if err != nil {
		fatalf("presign: %v", err)
	}
	if _, err := pool.WriteTo(os.Stdout); err != nil {
		fatalf("presign: %v", err)
	}
	fmt.Fprintf(os.Stderr, "%s\n", k.Backend())
}

// presign signs n answers in a process of its own, the presigner binary,
// spread over the client and the server cores (nothing else runs on the
// server core between runs), and returns the pool.
func (e *env) presign(n int) (*upstream.Pool, error) {
	bin := e.presigner
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		bin = self
	}
	cpus := fmt.Sprintf("%d,%d", e.o.ClientCPU, e.o.ServerCPU)
	cmd := pinnedTo(cpus, bin, presignCommand, "-creds", e.creds.Dir, "-n", strconv.Itoa(n), "-workers", "2")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr tail
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pool, rerr := upstream.ReadPool(out)
	werr := cmd.Wait()
	if werr != nil {
		return nil, fmt.Errorf("presign: %v: %s", werr, stderr.String())
	}
	if rerr != nil {
		return nil, rerr
	}
	if pool.Len() != n {
		return nil, fmt.Errorf("presign: %d answers signed, %d asked", pool.Len(), n)
	}
	e.presigned += int64(n)
	e.presignTime += time.Since(start)
	e.presignBackend = stderr.String()
	return pool, nil
}

// tail keeps the last 4 KiB written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	s := string(t.b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// maxRate is the most requests per second a row of the given build can
// complete on the server core: the inverse of its floor's CPU time per
// operation (no row does less than the floor's crypto), the lowest measured
// so far; it runs the floor for a second the first time.
func (e *env) maxRate(build string) float64 {
	if _, ok := e.floorCPU[build]; !ok {
		bin, err := e.floorBinary(build)
		if err != nil {
			fatalf("bench: sizing the stand-in's pools: %v", err)
		}
		st, err := e.runFloor(bin, time.Second)
		if err != nil {
			fatalf("bench: sizing the stand-in's pools: %v", err)
		}
		e.noteFloor(build, st)
		step("  stand-in pools for %s rows: floor %.0f µs of CPU per request, at most %.0f req/s on the server core", build, st.CPUms*1000, 1e3/st.CPUms)
	}
	return 1e6 / e.floorCPU[build]
}

// noteFloor keeps the lowest floor CPU time per operation of a build.
func (e *env) noteFloor(build string, st floorStats) {
	us := st.CPUms * 1000
	if us <= 0 {
		return
	}
	if old, ok := e.floorCPU[build]; !ok || us < old {
		e.floorCPU[build] = us
	}
}

// poolSize is the number of answers to sign for a run of row with clients
// clients lasting about d: the row's most requests per second over d plus
// two seconds (the check, the servers' start), times poolMargin, plus the
// requests in flight when the run stops.
func (e *env) poolSize(row string, clients int, d time.Duration) int {
	rate := e.maxRate(rowSpecs[row].build)
	return int(math.Ceil(rate*poolMargin*(d+2*time.Second).Seconds())) + 2*clients + 32
}

// standIn readies the stand-in for a run of row with clients clients lasting
// about d, before its server starts: a fresh pool of distinct answers when
// the row's proxy verifies them, one fixed answer otherwise. It returns the
// pool, for poolCheck after the run.
func (e *env) standIn(row string, clients int, d time.Duration) *upstream.Pool {
	if !rowSpecs[row].verifies {
		return e.standInN(row, 0)
	}
	if d > maxPooledRun {
		fatalf("bench: a %s run of %s draws on one pool of signed answers, whose timestamp WeChat Pay's 300 s bound: %s at most", row, d, maxPooledRun)
	}
	return e.standInN(row, e.poolSize(row, clients, d))
}

// standInN is standIn with the pool's size given: n answers for a row that
// verifies them.
func (e *env) standInN(row string, n int) *upstream.Pool {
	var pool *upstream.Pool
	var err error
	if rowSpecs[row].verifies {
		t0 := time.Now()
		if pool, err = e.presign(n); err != nil {
			fatalf("bench: signing the stand-in's answers: %v", err)
		}
		step("  stand-in: %d answers signed for %s in %.1fs (%s, CPUs %d,%d)", n, row, time.Since(t0).Seconds(), e.presignBackend, e.o.ClientCPU, e.o.ServerCPU)
	} else if pool, err = upstream.Fixed(upstream.KeySigner(e.creds.PublicKeyPrivateKey), time.Now().Unix()); err != nil {
		fatalf("bench: %v", err)
	}
	e.up.Serve(pool)
	return pool
}

// poolCheck says what is wrong with the pool after a run of row: "" when
// every request found an answer of its own (or the row does not verify).
func poolCheck(row string, pool *upstream.Pool) string {
	if rowSpecs[row].verifies && pool.IsFixed() {
		return "a verifying row was served a fixed answer"
	}
	if m := pool.Missed(); m > 0 {
		return fmt.Sprintf("the stand-in's pool of %d signed answers ran out or went stale: %d requests answered 503 (no signature is sent twice; raise poolMargin)", pool.Len(), m)
	}
	return ""
}

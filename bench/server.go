//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// server is one process under test: a fresh one per run, so that its VmHWM
// is the run's peak RSS.
type server struct {
	kind  string // caddy, ideal, peer, module, module-openssl
	cmd   *exec.Cmd
	pid   int
	addr  string // 127.0.0.1:port of the proxy
	admin string // admin address: /debug/vars and /debug/pprof
	log   *os.File
	done  chan struct{}
}

var (
	liveMu sync.Mutex
	live   = map[*server]bool{}
)

// stopAll stops every server still running (on a fatal error).
func stopAll() {
	liveMu.Lock()
	list := make([]*server, 0, len(live))
	for s := range live {
		list = append(list, s)
	}
	liveMu.Unlock()
	for _, s := range list {
		s.stop()
	}
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("bench: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// env is everything a run needs to start servers.
type env struct {
	o        options
	creds    *sandbox.Credentials
	upstream string // 127.0.0.1:port of the stand-in
	up       *upstream.Server
	runDir   string
	seq      int

	// presigner is the program whose presignCommand signs the stand-in's
	// pools ("": this one); presigned, presignTime and presignBackend
	// count what it did.
	presigner      string
	presigned      int64
	presignTime    time.Duration
	presignBackend string
	// floorCPU is the lowest floor CPU time per operation measured for
	// each build, in µs, which sizes the pools (maxRate).
	floorCPU map[string]float64
}

// startServer starts a fresh server of the given kind pinned to the server
// core, and waits until it accepts connections.
func (e *env) startServer(kind string) *server {
	e.seq++
	s := &server{kind: kind, addr: freePort(), done: make(chan struct{})}
	var bin string
	var args []string
	switch kind {
	case "caddy", "ideal", "module", "module-openssl":
		s.admin = freePort()
		cfg := e.caddyConfig(kind, s.addr, s.admin)
		path := filepath.Join(e.runDir, fmt.Sprintf("%s.json", kind))
		if err := writeJSON(path, cfg); err != nil {
			fatalf("bench: %v", err)
		}
		bin, args = e.o.Caddy, []string{"run", "--config", path}
		if kind == "module-openssl" {
			// The same module and configuration, built with cgo and the
			// tag openssl: the merchant's signatures go through libcrypto.
			if bin = e.o.CaddyOpenSSL; bin == "" {
				fatalf("bench: no OpenSSL build of Caddy (%s)", e.o.OpenSSL)
			}
		}
	case "peer":
		s.admin = freePort()
		c := e.creds
		bin = filepath.Join(e.o.Out, "bin", "peer")
		args = []string{"-listen", s.addr, "-upstream", "http://" + e.upstream,
			"-mchid", c.MchID, "-serial", c.MerchantSerial,
			"-key", c.Path(c.Files.MerchantPrivateKey),
			"-pubkey", c.Path(c.Files.PublicKey), "-pubkey-id", c.PublicKeyID, "-admin", s.admin}
	default:
		fatalf("bench: unknown server kind %q", kind)
	}
	e.launch(s, bin, args)
	return s
}

// launch starts bin pinned to the server core with GOMAXPROCS=1, logging to
// the run directory, and waits until s.addr accepts connections.
func (e *env) launch(s *server, bin string, args []string) {
	kind := s.kind
	logPath := filepath.Join(e.runDir, fmt.Sprintf("%02d-%s.log", e.seq, kind))
	lf, err := os.Create(logPath)
	if err != nil {
		fatalf("bench: %v", err)
	}
	s.log = lf
	cmd := pinned(e.o.ServerCPU, bin, args...)
	home := filepath.Join(e.o.Out, "caddyhome")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fatalf("bench: starting %s: %v", kind, err)
	}
	s.cmd, s.pid = cmd, cmd.Process.Pid
	liveMu.Lock()
	live[s] = true
	liveMu.Unlock()
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			fatalf("bench: %s exited at start; see %s", kind, logPath)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			fatalf("bench: %s did not start listening in 30s; see %s", kind, logPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pinned returns a command that runs bin on cpu (taskset execs the program,
// so the child's pid is the program's).
func pinned(cpu int, bin string, args ...string) *exec.Cmd {
	return pinnedTo(strconv.Itoa(cpu), bin, args...)
}

// pinnedTo returns a command that runs bin on the CPUs of the list cpus
// ("0,1"), unpinned when taskset is missing.
func pinnedTo(cpus, bin string, args ...string) *exec.Cmd {
	if taskset, err := exec.LookPath("taskset"); err == nil {
		return exec.Command(taskset, append([]string{"-c", cpus, bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (e *env) caddyConfig(kind, listen, admin string) map[string]any {
	handlers := []any{}
	switch kind {
	case "ideal":
		// The floor's crypto in a bare handler, on the floor's credentials.
		handlers = append(handlers, map[string]any{
			"handler":     "bench_ideal",
			"credentials": e.creds.Dir,
		})
	case "module", "module-openssl":
		c := e.creds
		handlers = append(handlers, map[string]any{
			"handler":       "wechatpay",
			"mchid":         c.MchID,
			"serial_no":     c.MerchantSerial,
			"private_key":   c.Path(c.Files.MerchantPrivateKey),
			"public_key_id": c.PublicKeyID,
			"public_key":    c.Path(c.Files.PublicKey),
		})
	}
	handlers = append(handlers, map[string]any{
		"handler":   "reverse_proxy",
		"upstreams": []any{map[string]any{"dial": e.upstream}},
	})
	return map[string]any{
		"admin": map[string]any{"listen": admin, "config": map[string]any{"persist": false}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
			"listen":          []string{listen},
			"automatic_https": map[string]any{"disable": true},
			"routes":          []any{map[string]any{"handle": handlers}},
		}}}},
	}
}

// cpu returns the process's user+system CPU time so far.
func (s *server) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		return 0
	}
	text := string(data)
	f := strings.Fields(text[strings.LastIndexByte(text, ')')+2:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / clockTicks)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// status returns a /proc/<pid>/status field in bytes (VmHWM, VmRSS).
func (s *server) status(field string) int64 {
	return procStatus(s.pid, field)
}

func procStatus(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// stop ends the process (SIGTERM, then SIGKILL after 3 s).
func (s *server) stop() {
	liveMu.Lock()
	running := live[s]
	delete(live, s)
	liveMu.Unlock()
	if !running {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// fetch saves url's body to path.
func fetch(url, path string, timeout time.Duration) error {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

//go:build linux

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/floorcrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// floorCommand is the hidden subcommand that measures the crypto floor in a
// process of its own, pinned to the server core.
const floorCommand = "__floor"

// floorStats is what the floor process reports.
type floorStats struct {
	Ops         int64   `json:"ops"`
	Seconds     float64 `json:"seconds"`
	CPUms       float64 `json:"cpu_ms_per_op"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	PeakRSS     int64   `json:"peak_rss"`
	OpsPerS     float64 `json:"ops_per_s"`
	Checksum    int     `json:"checksum"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"alloc_bytes_per_op"`
	// Backend is the code that made the merchant signatures: "Go
	// crypto/rsa", or "OpenSSL" in the OpenSSL build when libcrypto loaded.
	Backend string `json:"backend"`
}

// floorMain runs the per-request crypto of a presign request in a loop: one
// SHA256withRSA signature over a request-sized message with the merchant
// key, five RSA-OAEP-SHA1 encryptions of the field values under the WeChat
// Pay public key, and one SHA256withRSA verification of an answer's
// signature (floorcrypto.Work, which the ideal row's Caddy handler shares).
// No HTTP, no JSON, no encoding: the least any proxy must spend.
func floorMain(args []string) {
	fs := flag.NewFlagSet(floorCommand, flag.ExitOnError)
	dur := fs.Duration("t", 10*time.Second, "measured time")
	warmup := fs.Duration("warmup", 300*time.Millisecond, "warm-up")
	dir := fs.String("creds", "", "credentials directory")
	_ = fs.Parse(args)
	creds, err := sandbox.LoadCredentials(*dir)
	if err != nil {
		fatalf("floor: %v", err)
	}
	work, err := floorcrypto.New(creds)
	if err != nil {
		fatalf("floor: %v", err)
	}

	checksum := 0
	once := func() {
		n, err := work.Do()
		if err != nil {
			fatalf("floor: %v", err)
		}
		checksum += n
	}
	for end := time.Now().Add(*warmup); time.Now().Before(end); {
		once()
	}
	lats := make([]time.Duration, 0, 1<<14)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := selfCPU()
	t0 := time.Now()
	end := t0.Add(*dur)
	for {
		s := time.Now()
		if !s.Before(end) {
			break
		}
		once()
		lats = append(lats, time.Since(s))
	}
	elapsed := time.Since(t0)
	cpu := selfCPU() - cpu0
	runtime.ReadMemStats(&ms1)
	slices.Sort(lats)
	st := floorStats{Ops: int64(len(lats)), Seconds: elapsed.Seconds(), Checksum: checksum,
		P50ms: quantile(lats, 0.5), P99ms: quantile(lats, 0.99), PeakRSS: procStatus(os.Getpid(), "VmHWM"),
		Backend: work.Backend()}
	st.OpsPerS = float64(st.Ops) / st.Seconds
	st.AllocsPerOp = float64(ms1.Mallocs-ms0.Mallocs) / float64(st.Ops)
	st.BytesPerOp = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(st.Ops)
	st.CPUms = float64(cpu) / float64(time.Millisecond) / float64(st.Ops)
	_ = json.NewEncoder(os.Stdout).Encode(st)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floorBinary is the program whose floorCommand measures the floor of a
// build: this one for "go", the OpenSSL build of it for "openssl".
func (e *env) floorBinary(build string) (string, error) {
	switch build {
	case "go":
		return os.Executable()
	case "openssl":
		if e.o.BenchOpenSSL == "" {
			return "", fmt.Errorf("no OpenSSL build of the benchmark (%s)", e.o.OpenSSL)
		}
		return e.o.BenchOpenSSL, nil
	}
	return "", fmt.Errorf("no floor for build %q", build)
}

// runFloor runs the floor process of bin pinned to the server core.
func (e *env) runFloor(bin string, dur time.Duration) (floorStats, error) {
	cmd := pinned(e.o.ServerCPU, bin, floorCommand, "-t", dur.String(), "-creds", e.creds.Dir)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return floorStats{}, fmt.Errorf("floor: %w", err)
	}
	var st floorStats
	if err := json.Unmarshal(out, &st); err != nil {
		return floorStats{}, fmt.Errorf("floor: %w: %q", err, out)
	}
	return st, nil
}

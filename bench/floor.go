//go:build linux

package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
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
}

// floorMain runs the per-request crypto of a presign request in a loop: one
// SHA256withRSA signature over a request-sized message with the merchant
// key, five RSA-OAEP-SHA1 encryptions of the field values under the WeChat
// Pay public key, and one SHA256withRSA verification of an answer's
// signature. No HTTP, no JSON, no encoding: the least any proxy must spend.
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
	merchant := creds.MerchantPrivateKey
	merchant.Precompute()
	pub := creds.PublicKey

	var values [][]byte
	for _, f := range sensitiveFields {
		values = append(values, []byte(gjson.GetBytes(presignBody, f).String()))
	}
	// A request-sized message to sign: the body grows by five ciphertexts.
	msg := make([]byte, 0, 2048)
	msg = append(msg, "POST\n"+presignPath+"\n1700000000\n0123456789ABCDEFGHIJKLMNOPQRSTUV\n"...)
	msg = append(msg, presignBody...)
	for len(msg) < len(presignBody)+5*344 {
		msg = append(msg, 'x')
	}
	msg = append(msg, '\n')
	// The answer and its signature, verified each time.
	answer := append([]byte("1700000000\n0123456789abcdef0123456789abcdef\n"), upstream.Body...)
	answer = append(answer, '\n')
	asum := sha256.Sum256(answer)
	answerSig, err := rsa.SignPKCS1v15(nil, creds.PublicKeyPrivateKey, crypto.SHA256, asum[:])
	if err != nil {
		fatalf("floor: %v", err)
	}

	checksum := 0
	once := func() {
		sum := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(nil, merchant, crypto.SHA256, sum[:])
		if err != nil {
			fatalf("floor: %v", err)
		}
		checksum += int(sig[0])
		for _, v := range values {
			ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, v, nil)
			if err != nil {
				fatalf("floor: %v", err)
			}
			checksum += int(ct[0])
		}
		vsum := sha256.Sum256(answer)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, vsum[:], answerSig); err != nil {
			fatalf("floor: verify: %v", err)
		}
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
		P50ms: quantile(lats, 0.5), P99ms: quantile(lats, 0.99), PeakRSS: procStatus(os.Getpid(), "VmHWM")}
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

// runFloor runs the floor process pinned to the server core.
func (e *env) runFloor(dur time.Duration) (floorStats, error) {
	self, err := os.Executable()
	if err != nil {
		return floorStats{}, err
	}
	cmd := pinned(e.o.ServerCPU, self, floorCommand, "-t", dur.String(), "-creds", e.creds.Dir)
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

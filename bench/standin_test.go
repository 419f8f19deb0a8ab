//go:build linux

package main

import (
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestMain lets the test binary stand in for the benchmark's presigner:
// env.presign runs os.Executable() with presignCommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == presignCommand {
		presignMain(os.Args[2:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// verifyingProxy stands for the module in front of the stand-in: it passes
// each request on and answers 502 unless the answer passes the module's
// verifier, replay window included.
func verifyingProxy(up *upstream.Server, creds *sandbox.Credentials) http.Handler {
	v := apiv3.NewVerifier(map[string]*rsa.PublicKey{creds.PublicKeyID: creds.PublicKey})
	v.Window = replay.New(replay.Config{Window: apiv3.MaxResponseSkew})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			http.Error(w, rec.Body.String(), rec.Code)
			return
		}
		if err := v.Verify(rec.Header(), rec.Body.Bytes()); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// A run through a proxy that verifies as the module does passes only when
// the stand-in's answers are signed anew: with a pool signed ahead by the
// presigner process, every answer (warm-up included) is right and the pool
// reports no miss; with one fixed answer, the replays fail the run; with a
// pool too small, the misses fail it.
func TestRunsFailOnReplayedOrMissingAnswers(t *testing.T) {
	creds, err := sandbox.GenerateCredentials(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	up := upstream.New(creds.PublicKeyPrivateKey, creds.PublicKeyID)
	e := &env{o: options{ClientCPU: 0, ServerCPU: runtime.NumCPU() - 1}, creds: creds, up: up}
	srv := httptest.NewServer(verifyingProxy(up, creds))
	defer srv.Close()
	url := srv.URL + presignPath
	// About 20 requests in warm-up and 30 measured, paced at 100 per second.
	run := func() loadStats {
		client := newClient(2)
		return runLoad(client, url, 2, 200*time.Millisecond, 300*time.Millisecond,
			window{start: func() {}, end: func() {}, rate: 100})
	}

	pool, err := e.presign(200)
	if err != nil {
		t.Fatal(err)
	}
	up.Serve(pool)
	st := run()
	if st.Errors != 0 || st.WarmupErrors != 0 || st.Completed == 0 {
		t.Fatalf("distinct answers: %d completed, %d errors (%s), %d warm-up errors (%s)",
			st.Completed, st.Errors, st.FirstError, st.WarmupErrors, st.FirstWarmupError)
	}
	if msg := poolCheck("module", pool); msg != "" || pool.Served() < st.Completed {
		t.Fatalf("pool check %q, %d served for %d completed", msg, pool.Served(), st.Completed)
	}
	if e.presigned != 200 {
		t.Fatalf("presigned %d", e.presigned)
	}

	fixed, err := upstream.Fixed(upstream.KeySigner(creds.PublicKeyPrivateKey), time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	up.Serve(fixed)
	st = run()
	if st.Errors == 0 || !strings.Contains(st.FirstError, apiv3.CodeSignatureReplayed) {
		t.Fatalf("one fixed answer: %d errors (%s), want replays refused", st.Errors, st.FirstError)
	}
	if msg := poolCheck("module", fixed); msg == "" {
		t.Fatal("poolCheck let a verifying row have a fixed answer")
	}
	if msg := poolCheck("caddy", fixed); msg != "" {
		t.Fatalf("poolCheck refused a fixed answer to plain Caddy: %s", msg)
	}

	small, err := e.presign(3)
	if err != nil {
		t.Fatal(err)
	}
	up.Serve(small)
	st = run()
	if st.Errors == 0 || small.Missed() == 0 || small.Served() != 3 {
		t.Fatalf("a pool of 3: %d errors, %d missed, %d served", st.Errors, small.Missed(), small.Served())
	}
	if msg := poolCheck("module", small); !strings.Contains(msg, "ran out") {
		t.Fatalf("poolCheck of a used-up pool: %q", msg)
	}
}

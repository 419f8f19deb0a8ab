package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationReloadUnderLoad rotates the merchant key and the WeChat Pay
// public key through Caddy's admin API while requests flow: every response the
// app gets is a verified 200, no request is lost or sent twice, and requests
// after the reload use the new keys.
//
// A few connections (at most one per client in flight) can be dropped as the old server shuts
// down: Go's net/http closes a connection whose request it reads after
// Shutdown began, before any handler runs. The test proves such a request
// never reached WeChat Pay, so an app may safely retry it; docs/troubleshooting.md says so.
// reloadURL is the proxy's address in the reload test: a port of its own,
// since the test opens the socket while an earlier test's Caddy may still
// hold the usual one.
var reloadURL = fmt.Sprintf("http://localhost:%d", testPorts.reload)

func TestIntegrationReloadUnderLoad(t *testing.T) {
	stub := testkit.NewStub(t)
	old, fresh := testkit.Creds(), testkit.Rotated()
	// The socket is opened here and handed to Caddy as a file descriptor,
	// as systemd socket activation does: every configuration then shares
	// one socket, so a reload loses no queued connection.
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(testPorts.reload))
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	ln.Close()
	bind := "fd/" + strconv.Itoa(int(lf.Fd()))
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: stub.URL, grace: "10s", bind: bind, address: reloadURL}.caddyfile(t))

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// One connection per request: a keep-alive connection that the old
		// server closes as it shuts down is a client-side race that no
		// proxy can fix (a POST is not retried), so it is kept out here.
		DisableKeepAlives: true,
	}}
	load := startPresignLoad(client, reloadURL, 4, nil)
	load.awaitSent(t, 40)
	before := load.sent.Load()
	loadCaddyfile(t, tester, proxySite{upstream: stub.URL, grace: "10s", bind: bind, address: reloadURL, creds: fresh}.caddyfile(t))
	load.awaitSent(t, load.sent.Load()+40)
	load.finish()

	sent, dropped := load.sent.Load(), load.dropped.Load()
	answered := sent - dropped
	t.Logf("%d requests: %d answered, %d connections dropped by the old server; the stand-in received %d",
		sent, answered, dropped, len(stub.Requests()))
	if load.bad.Load() != 0 {
		t.Errorf("%d answers were not the verified 200; first: %v", load.bad.Load(), load.firstBad.Load())
	}
	if n := int64(len(stub.Requests())); n != answered {
		t.Errorf("the stand-in received %d requests for %d answers: a request was lost or sent twice", n, answered)
	}
	if dropped > load.workers {
		t.Errorf("%d connections dropped: more than the %d that can be in flight as the old server stops", dropped, load.workers)
	}
	if before < 10 || sent-before < 10 {
		t.Errorf("too little load to mean anything: %d before, %d in all", before, sent)
	}

	stub.Reset()
	resp, err := client.Post(reloadURL+"/v3/eduschoolpay/contracts/presign", "application/json", bytes.NewReader([]byte(testkit.PresignBody)))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after reload: %d %s", resp.StatusCode, out)
	}
	got := stub.Requests()[0]
	if got.SignatureOK != nil {
		t.Errorf("after reload: %v", got.SignatureOK)
	}
	if m := testkit.AuthorizationRE.FindStringSubmatch(got.Header.Get("Authorization")); m == nil || m[5] != fresh.SerialNo {
		t.Errorf("after reload, Authorization still names the old certificate (%s)", old.SerialNo)
	}
	if got.Header.Get("Wechatpay-Serial") != fresh.PublicKeyID {
		t.Errorf("after reload, Wechatpay-Serial = %q", got.Header.Get("Wechatpay-Serial"))
	}
	for path, plain := range testkit.PresignPlain {
		if got.Decrypted[path] != plain {
			t.Errorf("%s not encrypted under the new WeChat Pay key", path)
		}
	}
}

// presignLoad is closed-loop load: clients that send the reference presign
// request one after another until finish.
type presignLoad struct {
	workers       int64
	sent, dropped atomic.Int64 // dropped: no answer at all (a connection error)
	bad           atomic.Int64 // an answer other than the stand-in's verified 200
	firstDrop     atomic.Value
	firstBad      atomic.Value
	stop          chan struct{}
	wg            sync.WaitGroup
}

// startPresignLoad starts workers clients against base; decorate, when set,
// adjusts each request before it is sent.
func startPresignLoad(client *http.Client, base string, workers int, decorate func(*http.Request)) *presignLoad {
	l := &presignLoad{workers: int64(workers), stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, base+"/v3/eduschoolpay/contracts/presign", bytes.NewReader([]byte(testkit.PresignBody)))
				req.Header.Set("Content-Type", "application/json")
				if decorate != nil {
					decorate(req)
				}
				resp, err := client.Do(req)
				l.sent.Add(1)
				if err != nil {
					l.dropped.Add(1)
					l.firstDrop.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte("stub_presign_token")) {
					l.bad.Add(1)
					l.firstBad.CompareAndSwap(nil, resp.Status+" "+string(body))
				}
			}
		}()
	}
	return l
}

// awaitSent waits until n requests have been sent (answered or dropped):
// the load is measured in requests, not seconds, so a slow machine gives
// each phase as many as a fast one.
func (l *presignLoad) awaitSent(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for l.sent.Load() < n {
		if time.Now().After(deadline) {
			l.finish()
			t.Fatalf("only %d of %d requests sent in 60 s", l.sent.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish stops the clients and waits for their last requests.
func (l *presignLoad) finish() {
	close(l.stop)
	l.wg.Wait()
}

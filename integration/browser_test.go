package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// A real browser against the proxy (issue 23): headless Chromium opens an
// attacker's page from another local origin, and one whose name was made
// to resolve to 127.0.0.1 (DNS rebinding, --host-resolver-rules), which
// try what a page can send without asking: fetch no-cors with text/plain,
// a Blob body without a type, a GET, and a <form enctype="text/plain">.
// WeChat Pay's stand-in must record nothing, while the same requests to
// a recording route of the same Caddy (no wechatpay handler there) must
// arrive: a browser that sent nothing cannot pass.

const chromiumPath = "/usr/bin/chromium"

// attackerPage is the page; BASE is where it sends (the proxy's origin, or
// "" for its own origin after rebinding). It writes what it could read of
// each answer into #out and sets the title to "done".
const attackerPage = `<!doctype html>
<html><head><title>attacker</title></head><body>
<pre id="out"></pre>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<script>
const BASE = "{{BASE}}";
const body = '{"out_refund_no":"R-ATTACK","out_trade_no":"T1","amount":{"refund":1,"total":1,"currency":"CNY"}}';
const out = document.getElementById("out");
function form(prefix, sink) {
  const f = document.createElement("form");
  f.method = "POST"; f.enctype = "text/plain"; f.target = sink;
  f.action = BASE + prefix + "/v3/refund/domestic/refunds?probe=form";
  const i = document.createElement("input");
  i.name = '{"out_refund_no":"R-FORM","x":"'; i.value = '"}';
  f.appendChild(i); document.body.appendChild(f); f.submit();
}
async function probe(prefix) {
  const tries = {
    text: fetch(BASE + prefix + "/v3/refund/domestic/refunds?probe=text", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body}),
    blob: fetch(BASE + prefix + "/v3/refund/domestic/refunds?probe=blob", {method: "POST", mode: "no-cors", body: new Blob([body])}),
    get: fetch(BASE + prefix + "/v3/pay/transactions/id/4200000001?mchid=1900000001&probe=get", {mode: "no-cors"}),
  };
  for (const [name, p] of Object.entries(tries)) {
    try { const r = await p; out.textContent += prefix + " " + name + " " + r.status + " " + (await r.text()).slice(0, 200) + "\n"; }
    catch (e) { out.textContent += prefix + " " + name + " error\n"; }
  }
}
(async () => {
  form("", "sink1"); form("/control", "sink2");
  await probe(""); await probe("/control");
  await new Promise(r => setTimeout(r, 500));
  document.title = "done";
})();
</script></body></html>`

// recorder records the requests it gets: method, URI, headers.
type recorder struct {
	mu   sync.Mutex
	seen []*http.Request
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.Clone(context.Background()))
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"recorded":true}`))
}

// probes returns the probe names the recorder got, sorted.
func (rc *recorder) probes() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, r := range rc.seen {
		if p := r.URL.Query().Get("probe"); p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	rc.seen = nil
	rc.mu.Unlock()
}

// runChromium opens url in headless Chromium, with the flags that keep it
// off the network but for the test's servers, and returns the page's DOM
// once its script has run (or the time budget is spent).
func runChromium(t *testing.T, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000", "--dump-dom"}, extra...)
	out, err := exec.CommandContext(ctx, chromiumPath, append(args, url)...).Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	return string(out)
}

func TestIntegrationBrowserRefused(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("Chromium is not installed (Debian: apt-get install chromium): the real-browser test is skipped; TestIntegrationTrustBoundary checks the same headers without a browser")
	}
	stub := testkit.NewStub(t)
	rec := &recorder{}
	control := httptest.NewServer(rec)
	t.Cleanup(control.Close)
	port := strconv.Itoa(testPorts.http)
	// The attacker's own server: the page, from another local origin
	// (localhost:N), aimed at the proxy's origin.
	crossOrigin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "http://127.0.0.1:" + port
		if r.URL.Query().Get("rebound") != "" {
			base = "" // served through the proxy's port: its own origin
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(strings.Replace(attackerPage, "{{BASE}}", base, 1)))
	}))
	t.Cleanup(crossOrigin.Close)

	c := testkit.Creds()
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	// /attacker.html stands for the attacker's server before the name is
	// rebound: after it, the page's own origin is the proxy's port.
	// /control/ is a route without the wechatpay handler, to the recorder.
	loadCaddyfile(t, newTester(t), "{\n"+testGlobals("1ns")+"}\n:"+port+` {
	bind 127.0.0.1
	handle /attacker.html {
		rewrite * /attacker.html?rebound=1
		reverse_proxy `+strings.TrimPrefix(crossOrigin.URL, "http://")+`
	}
	handle_path /control/* {
		reverse_proxy `+strings.TrimPrefix(control.URL, "http://")+`
	}
	handle {
		wechatpay {
			mchid         `+c.MchID+`
			serial_no     `+c.SerialNo+`
			private_key   `+key+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+pub+`
		}
		reverse_proxy `+strings.TrimPrefix(stub.URL, "http://")+`
	}
}
`)
	want := []string{"blob", "form", "get", "text"}
	for _, tc := range []struct {
		name, url string
		flags     []string
	}{
		{"a page of another local origin", "http://localhost:" + strings.TrimPrefix(crossOrigin.URL, "http://127.0.0.1:") + "/page.html", nil},
		{"a page after DNS rebinding", "http://rebind.test:" + port + "/attacker.html", []string{"--host-resolver-rules=MAP rebind.test 127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			rec.reset()
			dom := runChromium(t, tc.url, tc.flags...)
			if !strings.Contains(dom, "<title>done</title>") {
				t.Fatalf("the page's script did not finish:\n%s", dom)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !slices.Equal(rec.probes(), want) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if got := rec.probes(); !slices.Equal(got, want) {
				t.Fatalf("the recording route got %v, want %v: the browser did not send what the test needs\n%s", got, want, dom)
			}
			if reqs := stub.Requests(); len(reqs) != 0 {
				for _, r := range reqs {
					t.Errorf("signed and sent to WeChat Pay: %s %s", r.Method, r.URI)
				}
			}
			if strings.Contains(dom, "stub_presign_token") || strings.Contains(dom, "Wechatpay") {
				t.Errorf("the page read an answer of WeChat Pay:\n%s", dom)
			}
			t.Logf("what the page could read:\n%s", between(dom, `<pre id="out">`, "</pre>"))
		})
	}
}

// between returns the text of s between from and to.
func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	in, _, _ := strings.Cut(rest, to)
	return in
}

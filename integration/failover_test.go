package integration

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// The failover tests run the Caddyfile of docs/failover.md, cut out of the
// page, so that the example is what is tested.
const (
	failoverPage    = "../docs/failover.md"
	failoverHeading = "# WeChat Pay's backup domain"
)

// What the tests replace in the example, and only that: the two upstreams
// (HTTPS to WeChat Pay's domains, which become plain-HTTP stand-ins on
// loopback) and the port the site listens on (this test process's).
const (
	examplePrimary = "https://api.mch.weixin.qq.com"
	exampleBackup  = "https://api2.mch.weixin.qq.com"
	exampleSite    = ":9180 {"
)

// failoverExample returns the example of docs/failover.md as it is
// written.
func failoverExample(t *testing.T) string {
	t.Helper()
	return testkit.DocsCaddyfile(t, failoverPage, failoverHeading)
}

// failoverConfig returns the example with its primary and backup upstreams
// replaced by the stand-ins at primary and backup ("127.0.0.1:port") and its
// site by this process's port, after the test global options. The
// example takes the merchant's keys from the environment: setFailoverEnv
// sets them.
func failoverConfig(t *testing.T, primary, backup string) string {
	t.Helper()
	example := failoverExample(t)
	for _, s := range []string{examplePrimary + " ", exampleBackup + " ", exampleSite} {
		if n := strings.Count(example, s); n != 1 {
			t.Fatalf("%s: the example holds %q %d times, want once", failoverPage, s, n)
		}
	}
	config := strings.NewReplacer(
		examplePrimary+" ", "http://"+primary+" ",
		exampleBackup+" ", "http://"+backup+" ",
		exampleSite, ":"+strconv.Itoa(testPorts.http)+" {",
	).Replace(example)
	if strings.Contains(config, "weixin.qq.com") {
		t.Fatalf("the example names WeChat Pay somewhere else too:\n%s", config)
	}
	return "{\n" + testGlobals("1ns") + "}\n" + config
}

// setFailoverEnv sets the variables the example reads the merchant's keys
// from, for the test.
func setFailoverEnv(t *testing.T) {
	c := testkit.Creds()
	dir := t.TempDir()
	t.Setenv("WECHATPAY_MCHID", c.MchID)
	t.Setenv("WECHATPAY_SERIAL_NO", c.SerialNo)
	t.Setenv("WECHATPAY_PRIVATE_KEY", testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey)))
	t.Setenv("WECHATPAY_PUBLIC_KEY_ID", c.PublicKeyID)
	t.Setenv("WECHATPAY_PUBLIC_KEY", testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)))
}

// stubAddr is a stand-in's host:port.
func stubAddr(s *testkit.Stub) string { return strings.TrimPrefix(s.URL, "http://") }

// TestFailoverExampleAdapts: the example, as written for production, is
// what docs/failover.md says: both domains over HTTPS, the first available
// one, one retry, passive health checks, and no Host header of its own,
// since Caddy sets each HTTPS upstream's own (which this Caddy still does).
func TestFailoverExampleAdapts(t *testing.T) {
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(failoverExample(t)), nil)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("adapting: %v %v", err, warnings)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []json.RawMessage `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	var proxies []reverseproxy.Handler
	for _, srv := range cfg.Apps.HTTP.Servers {
		for _, route := range srv.Routes {
			for _, raw := range route.Handle {
				var h struct {
					Handler string `json:"handler"`
				}
				_ = json.Unmarshal(raw, &h)
				if h.Handler == "reverse_proxy" {
					var p reverseproxy.Handler
					if err := json.Unmarshal(raw, &p); err != nil {
						t.Fatal(err)
					}
					proxies = append(proxies, p)
				}
			}
		}
	}
	if len(proxies) != 1 {
		t.Fatalf("%d reverse_proxy handlers in %s", len(proxies), out)
	}
	p := proxies[0]
	var dials []string
	for _, u := range p.Upstreams {
		dials = append(dials, u.Dial)
	}
	if strings.Join(dials, " ") != "api.mch.weixin.qq.com:443 api2.mch.weixin.qq.com:443" {
		t.Errorf("upstreams %v, want the primary, then the backup", dials)
	}
	var transport struct {
		Protocol string          `json:"protocol"`
		TLS      json.RawMessage `json:"tls"`
	}
	if err := json.Unmarshal(p.TransportRaw, &transport); err != nil || transport.Protocol != "http" || transport.TLS == nil {
		t.Errorf("transport %s, want http with TLS", p.TransportRaw)
	}
	lb := p.LoadBalancing
	if lb == nil || !strings.Contains(string(lb.SelectionPolicyRaw), `"policy":"first"`) || lb.Retries != 1 ||
		lb.TryDuration != 0 || len(lb.RetryMatchRaw) != 0 {
		t.Errorf("load balancing %s, want first, one retry, no try_duration, no retry_match", lbJSON(lb))
	}
	if hc := p.HealthChecks; hc == nil || hc.Passive == nil || hc.Active != nil ||
		time.Duration(hc.Passive.FailDuration) != 30*time.Second || hc.Passive.MaxFails != 1 ||
		len(hc.Passive.UnhealthyStatus) != 1 || hc.Passive.UnhealthyStatus[0] != 5 {
		t.Errorf("health checks %+v, want passive: 30s, 1 fail, 5xx", hc)
	}
	if p.Headers != nil {
		t.Errorf("the example sets headers: %+v", p.Headers)
	}
	// What the example counts on for Host: an HTTPS transport sets each
	// upstream's own address.
	ops := (&reverseproxy.HTTPTransport{TLS: new(reverseproxy.TLSConfig)}).RequestHeaderOps()
	if ops == nil || ops.Set.Get("Host") != "{http.reverse_proxy.upstream.hostport}" {
		t.Errorf("Caddy's HTTPS transport no longer sets Host to the upstream's address: %+v", ops)
	}
}

// lbJSON shows a load balancing configuration as JSON.
func lbJSON(lb *reverseproxy.LoadBalancing) string {
	b, _ := json.Marshal(lb)
	return string(b)
}

// TestIntegrationFailover runs the example of docs/failover.md in a real
// Caddy, with a primary that fails in each of the ways the page describes
// and an SDK-judged stand-in as the backup. Whatever the failure, a
// request reaches the two stand-ins together at most once, and a POST that
// may have reached the primary is not sent to the backup.
func TestIntegrationFailover(t *testing.T) {
	setFailoverEnv(t)
	tester := newTester(t)
	c := testkit.Creds()

	// presign sends the reference presign request; query, an order query.
	presign := func(t *testing.T) (int, []byte) {
		t.Helper()
		resp, out := send(t, tester, "POST", testkit.PresignPath, []byte(testkit.PresignBody), "Content-Type", "application/json")
		return resp.StatusCode, out
	}
	const queryURI = "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000001"
	query := func(t *testing.T) (int, []byte) {
		t.Helper()
		resp, out := send(t, tester, "GET", queryURI, nil)
		return resp.StatusCode, out
	}
	// answered checks that a call got the backup's verified answer, which
	// is the backup's request number n, judged by the SDK.
	answered := func(t *testing.T, backup *testkit.Stub, n int, status int, out []byte, method, uri string) {
		t.Helper()
		if status != 200 || !strings.Contains(string(out), testkit.PresignToken) {
			t.Fatalf("%s %s: status %d %s, want the backup's verified 200", method, uri, status, out)
		}
		reqs := backup.Requests()
		if len(reqs) != n {
			t.Fatalf("after %s %s the backup has %d requests, want %d", method, uri, len(reqs), n)
		}
		got := reqs[n-1]
		if got.Method != method || got.URI != uri || got.SignatureOK != nil {
			t.Errorf("the backup got %s %s, signature: %v", got.Method, got.URI, got.SignatureOK)
		}
		if method == "POST" {
			for path, plain := range testkit.PresignPlain {
				if got.Decrypted[path] != plain {
					t.Errorf("%s: the SDK decrypts %q, want %q", path, got.Decrypted[path], plain)
				}
			}
		}
		if s := got.Header.Get("Wechatpay-Serial"); s != c.PublicKeyID {
			t.Errorf("Wechatpay-Serial %q", s)
		}
	}
	// refused checks that a call got the proxy's JSON error.
	refused := func(t *testing.T, status int, out []byte, wantStatus int, wantCode string) {
		t.Helper()
		var e struct{ Code, Message string }
		if status != wantStatus || json.Unmarshal(out, &e) != nil || e.Code != wantCode {
			t.Fatalf("status %d %s, want %d %s", status, out, wantStatus, wantCode)
		}
	}

	t.Run("primary refuses connections", func(t *testing.T) {
		primary := "127.0.0.1:" + strconv.Itoa(testkit.FreePort()) // nothing listens
		backup := testkit.NewStub(t)
		loadCaddyfile(t, tester, failoverConfig(t, primary, stubAddr(backup)))
		// The first call is refused by the primary and sent to the backup
		// (a dial error); the others go to the backup straight away, the
		// primary being marked down. Each reaches the backup once.
		for i := 1; i <= 3; i++ {
			status, out := presign(t)
			answered(t, backup, 2*i-1, status, out, "POST", testkit.PresignPath)
			status, out = query(t)
			answered(t, backup, 2*i, status, out, "GET", queryURI)
		}
	})

	t.Run("primary resets a POST", func(t *testing.T) {
		primary := newFaultyUpstream(t) // reads the whole request, then resets
		primary.mode.Store("reset")
		backup := testkit.NewStub(t)
		loadCaddyfile(t, tester, failoverConfig(t, primary.ln.Addr().String(), stubAddr(backup)))
		status, out := presign(t)
		refused(t, status, out, 502, codeUpstreamUnreachable)
		if !strings.Contains(string(out), "after the request was sent") {
			t.Errorf("%s: the app is not told the POST may have arrived", out)
		}
		if n, m := primary.requests.Load(), len(backup.Requests()); n != 1 || m != 0 {
			t.Fatalf("the primary got the POST %d times and the backup %d times, want 1 and 0", n, m)
		}
		// The primary is now marked down: the next calls go to the backup.
		status, out = presign(t)
		answered(t, backup, 1, status, out, "POST", testkit.PresignPath)
		status, out = query(t)
		answered(t, backup, 2, status, out, "GET", queryURI)
		if n := primary.requests.Load(); n != 1 {
			t.Errorf("the primary got %d requests, want 1: it was not marked down", n)
		}
	})

	t.Run("primary resets a GET", func(t *testing.T) {
		primary := newFaultyUpstream(t)
		primary.mode.Store("reset")
		backup := testkit.NewStub(t)
		loadCaddyfile(t, tester, failoverConfig(t, primary.ln.Addr().String(), stubAddr(backup)))
		// A query is retried on the backup although it reached the primary.
		status, out := query(t)
		answered(t, backup, 1, status, out, "GET", queryURI)
		if n := primary.requests.Load(); n != 1 {
			t.Errorf("the primary got %d requests, want 1", n)
		}
	})

	t.Run("primary answers a 5xx", func(t *testing.T) {
		primary := testkit.NewStub(t)
		primary.SetResponse(testkit.StubResponse{Status: 503, Body: "<html>503 Service Temporarily Unavailable</html>", NoHeaders: true})
		backup := testkit.NewStub(t)
		loadCaddyfile(t, tester, failoverConfig(t, stubAddr(primary), stubAddr(backup)))
		// The answer goes to the app, and the POST is not sent again ...
		status, out := presign(t)
		refused(t, status, out, 503, codeUpstreamError)
		if n, m := len(primary.Requests()), len(backup.Requests()); n != 1 || m != 0 {
			t.Fatalf("the primary got the POST %d times and the backup %d times, want 1 and 0", n, m)
		}
		// ... but the primary is marked down.
		status, out = presign(t)
		answered(t, backup, 1, status, out, "POST", testkit.PresignPath)
		if n := len(primary.Requests()); n != 1 {
			t.Errorf("the primary got %d requests, want 1: it was not marked down", n)
		}
	})

	t.Run("both refuse connections", func(t *testing.T) {
		primary := "127.0.0.1:" + strconv.Itoa(testkit.FreePort())
		backup := "127.0.0.1:" + strconv.Itoa(testkit.FreePort())
		loadCaddyfile(t, tester, failoverConfig(t, primary, backup))
		// Both tried, then both marked down: nothing left to try. Either
		// way the POST never left, and the app is told so.
		for range 2 {
			status, out := presign(t)
			refused(t, status, out, 502, codeUpstreamUnreachable)
			if !strings.Contains(string(out), "was not sent") {
				t.Errorf("%s: the app is not told the request was not sent", out)
			}
		}
	})
}

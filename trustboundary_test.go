package wechatpay

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServeHTTPRefusesBrowsers: a request that carries Origin (any value,
// null and empty included) or Sec-Fetch-Site is refused with 403 on every
// route of the handler, the re-sign route included, before anything else
// is looked at; nothing reaches the next handler, the log line names the
// header and never its value. Sec-Fetch-Mode alone (Node's fetch) passes.
func TestServeHTTPRefusesBrowsers(t *testing.T) {
	h, logs := provisionedHandler(t, `,"verify_responses":false,"request_payment":false`)
	pay, _ := provisionedHandler(t, `,"request_payment":true`)
	for _, tc := range []struct {
		name, header, value string
		handler             *Handler
		method, target      string
	}{
		{"Origin of another site", "Origin", "http://attacker.example", h, "POST", "/v3/refund/domestic/refunds"},
		{"Origin null", "Origin", "null", h, "POST", "/v3/refund/domestic/refunds"},
		{"Origin empty", "Origin", "", h, "POST", "/v3/refund/domestic/refunds"},
		{"same-origin Origin", "Origin", "http://127.0.0.1:9180", h, "POST", "/v3/refund/domestic/refunds"},
		{"Sec-Fetch-Site of a GET", "Sec-Fetch-Site", "cross-site", h, "GET", "/v3/pay/transactions/id/4200000001?mchid=1900000001"},
		{"Sec-Fetch-Site none", "Sec-Fetch-Site", "none", h, "GET", "/v3/certificates"},
		{"lower-case header name", "origin", "http://attacker.example", h, "POST", "/v3/refund/domestic/refunds"},
		{"re-sign route", "Origin", "http://attacker.example", pay, "POST", requestPaymentPath},
		{"a path the proxy does not forward", "Sec-Fetch-Site", "same-origin", h, "GET", "/admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.TakeAll()
			r := httptest.NewRequest(tc.method, "http://127.0.0.1:9180"+tc.target, strings.NewReader(`{"out_trade_no":"1"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header[http.CanonicalHeaderKey(tc.header)] = []string{tc.value}
			w, fw, _ := serve(t, tc.handler, r, nil)
			if fw != nil {
				t.Fatal("a browser's request reached the next handler")
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != 403 || e.Code != codeBrowserRequestRefused ||
				!strings.Contains(e.Message, "from their server") {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if tc.value != "" && strings.Contains(w.Body.String(), tc.value) {
				t.Errorf("the refusal quotes the header's value: %s", w.Body)
			}
			if tc.handler != h {
				return
			}
			entries := logs.FilterMessage("refused").All()
			if len(entries) != 1 {
				t.Fatalf("%d refusal lines", len(entries))
			}
			fields := entries[0].ContextMap()
			if fields["code"] != codeBrowserRequestRefused || fields["field"] != http.CanonicalHeaderKey(tc.header) {
				t.Errorf("log line %v", fields)
			}
			for _, v := range fields {
				if s, ok := v.(string); ok && tc.value != "" && strings.Contains(s, tc.value) {
					t.Errorf("the log line quotes the header's value: %v", fields)
				}
			}
		})
	}
	t.Run("Sec-Fetch-Mode alone, as Node's fetch sends it", func(t *testing.T) {
		r := httptest.NewRequest("POST", "http://127.0.0.1:9180/v3/refund/domestic/refunds", strings.NewReader(`{"out_trade_no":"1"}`))
		r.Header.Set("Sec-Fetch-Mode", "cors")
		r.Header.Set("Content-Type", "application/json")
		if _, fw, _ := serve(t, h, r, nil); fw == nil {
			t.Error("refused")
		}
	})
}

// TestServeHTTPChecksHost: on plain HTTP, Host must be an IP literal,
// localhost or an allow_hosts name (DNS rebinding); over TLS, and over a
// Unix socket, which no page can reach, any name passes.
func TestServeHTTPChecksHost(t *testing.T) {
	h, _ := provisionedHandler(t, `,"verify_responses":false,"allow_hosts":["wechatpay-proxy","*.Svc.Cluster.Local"]`)
	plain, _ := provisionedHandler(t, `,"verify_responses":false`)
	unix := context.WithValue(context.Background(), http.LocalAddrContextKey, &net.UnixAddr{Name: "/run/wechatpay/proxy.sock", Net: "unix"})
	tcp := context.WithValue(context.Background(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9180})
	for _, tc := range []struct {
		host    string
		handler *Handler
		tls     bool
		ctx     context.Context
		pass    bool
	}{
		{"127.0.0.1:9180", h, false, tcp, true},
		{"127.0.0.1", h, false, nil, true},
		{"[::1]:9180", h, false, nil, true},
		{"[fe80::1%25eth0]:9180", h, false, nil, true},
		{"10.20.3.4:9180", h, false, nil, true},
		{"localhost:9180", h, false, nil, true},
		{"LOCALHOST", h, false, nil, true},
		{"localhost.:9180", h, false, nil, true},
		{"wechatpay-proxy:9180", h, false, nil, true},
		{"WeChatPay-Proxy", h, false, nil, true},
		{"payments.SVC.cluster.local:9180", h, false, nil, true},
		{"wechatpay.payments.svc.cluster.local", h, false, nil, false},
		{"svc.cluster.local", h, false, nil, false},
		{"rebind.attacker.example:9180", h, false, tcp, false},
		{"wechatpay-proxy.attacker.example", h, false, nil, false},
		{"localhost.attacker.example", h, false, nil, false},
		{"127.0.0.1.attacker.example", h, false, nil, false},
		{"", h, false, nil, false},
		{"wechatpay-proxy", plain, false, nil, false},
		{"rebind.attacker.example", h, true, nil, true},
		{"rebind.attacker.example", h, false, unix, true},
	} {
		r := httptest.NewRequest("GET", "/v3/pay/transactions/id/4200000001?mchid=1900000001", nil)
		r.Host = tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{ServerName: tc.host}
		}
		if tc.ctx != nil {
			r = r.WithContext(tc.ctx)
		}
		w, fw, _ := serve(t, tc.handler, r, nil)
		if tc.pass {
			if fw == nil {
				t.Errorf("Host %q (TLS %v): refused %d %s", tc.host, tc.tls, w.Code, w.Body)
			}
			continue
		}
		var e struct{ Code, Message string }
		if fw != nil || w.Code != 403 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != codeHostNotAllowed ||
			!strings.Contains(e.Message, "allow_hosts") {
			t.Errorf("Host %q: %d %s (forwarded: %v)", tc.host, w.Code, w.Body, fw != nil)
		}
	}
}

// TestAllowHostsOption: allow_hosts takes names, and a wildcard only as a
// whole first label; anything that would let every name through, or
// carries a port or a scheme, stops Caddy at start naming the option.
func TestAllowHostsOption(t *testing.T) {
	for _, bad := range []string{`"*"`, `"*.com"`, `"svc:9180"`, `"http://svc"`, `""`, `"a.*.svc"`, `"**.svc"`, `"svc/x"`, `"*."`} {
		h := new(Handler)
		if err := json.Unmarshal([]byte(`{"allow_hosts":[`+bad+`]}`), h); err != nil {
			t.Fatal(err)
		}
		if err := h.checkOptions(); err == nil || !strings.Contains(err.Error(), "allow_hosts") {
			t.Errorf("allow_hosts %s: %v", bad, err)
		}
	}
	h := new(Handler)
	h.AllowHosts = []string{"wechatpay-proxy", "*.payments.svc.cluster.local", "proxy.internal.", "10.0.0.1"}
	if err := h.checkOptions(); err != nil {
		t.Error(err)
	}
}

// appRequest is a request as an app sends it: by 127.0.0.1, a JSON body,
// the headers curl or a Node client adds, over loopback TCP.
func appRequest(host string) *http.Request {
	r := httptest.NewRequest("POST", "/v3/eduschoolpay/contracts/presign", strings.NewReader("{}"))
	r.Host = host
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "*/*", "User-Agent": "node",
		"Sec-Fetch-Mode": "cors", "Accept-Language": "*", "Accept-Encoding": "gzip, deflate"} {
		r.Header.Set(k, v)
	}
	return r.WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9180}))
}

// TestTrustBoundaryAllocatesNothing: the checks of a request that passes
// are a few header and map look-ups, without allocation.
func TestTrustBoundaryAllocatesNothing(t *testing.T) {
	h := new(Handler)
	h.AllowHosts = []string{"wechatpay-proxy", "*.payments.svc.cluster.local"}
	if err := h.checkOptions(); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1:9180", "localhost:9180", "[::1]:9180", "WeChatPay-Proxy:9180", "p.payments.svc.cluster.local"} {
		r := appRequest(host)
		if allocs := testing.AllocsPerRun(100, func() {
			if ae := h.checkTrustBoundary(r); ae != nil {
				t.Fatalf("%s refused: %s", host, ae.message)
			}
		}); allocs != 0 {
			t.Errorf("Host %s: %.1f allocations", host, allocs)
		}
	}
}

// BenchmarkTrustBoundary is what the checks add to a request of an app.
//
//	go test -run XXX -bench TrustBoundary -benchmem .
func BenchmarkTrustBoundary(b *testing.B) {
	h := new(Handler)
	h.AllowHosts = []string{"wechatpay-proxy"}
	if err := h.checkOptions(); err != nil {
		b.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1:9180", "wechatpay-proxy:9180"} {
		r := appRequest(host)
		b.Run(host, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if h.checkTrustBoundary(r) != nil {
					b.Fatal("refused")
				}
			}
		})
	}
}

// TestTrustBoundaryRefusalsCounted: each refusal is counted in
// requests_total under its code, by the request's endpoint.
func TestTrustBoundaryRefusalsCounted(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, ""))
	send := func(host string, header ...string) {
		r := httptest.NewRequest("POST", "http://127.0.0.1/v3/refund/domestic/refunds", strings.NewReader(`{}`))
		r.Host = host
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		if _, fw, _ := serve(t, h, r, nil); fw != nil {
			t.Fatal("forwarded")
		}
	}
	send("127.0.0.1", "Origin", "http://attacker.test")
	send("127.0.0.1", "Sec-Fetch-Site", "cross-site")
	send("rebind.test")
	send("127.0.0.1", "Content-Type", "text/plain")
	var got []string
	for _, l := range scrape(t, reg) {
		if strings.HasPrefix(l, "caddy_wechatpay_requests_total{") {
			got = append(got, l)
		}
	}
	const series = `caddy_wechatpay_requests_total{endpoint="/v3/refund/domestic/refunds",merchant="1900000001",method="POST",outcome=`
	assertLines(t, got, []string{
		series + `"BROWSER_REQUEST_REFUSED"} 2`,
		series + `"HOST_NOT_ALLOWED"} 1`,
		series + `"UNSUPPORTED_MEDIA_TYPE"} 1`,
	})
}

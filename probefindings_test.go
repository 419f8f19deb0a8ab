package wechatpay

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// The smaller findings of the probe of 2026-12-08 (issue 23), each once
// true of the handler.

// TestMetricsOtherMethodIsOther: a request whose method is not its path's
// documented one is counted under endpoint "other", so that no client can
// add a series per path and method (12 paths x 5 methods added 58).
func TestMetricsOtherMethodIsOther(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, ""))
	ok := signedAnswer(t, nil, `{}`)
	for _, tc := range []struct{ method, path string }{
		{"PUT", "/v3/eduschoolpay/contracts/presign"},
		{"PATCH", "/v3/eduschoolpay/contracts/presign"},
		{"DELETE", "/v3/refund/domestic/refunds"},
		{"GET", "/v3/refund/domestic/refunds"},
		{"POST", "/v3/pay/transactions/id/4200000001"},
	} {
		call(t, h, tc.method, "http://127.0.0.1"+tc.path, "", ok)
	}
	call(t, h, "POST", "http://127.0.0.1/v3/refund/domestic/refunds", `{}`, ok)
	var got []string
	for _, l := range scrape(t, reg) {
		if strings.HasPrefix(l, "caddy_wechatpay_requests_total{") {
			got = append(got, l)
		}
	}
	const mch = `merchant="1900000001"`
	assertLines(t, got, []string{
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="PUT",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="PATCH",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="DELETE",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="GET",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="POST",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/refund/domestic/refunds",` + mch + `,method="POST",outcome="verified"} 1`,
	})
}

// TestHEADRefusedLocally: WeChat Pay answers a HEAD without the body its
// signature covers, so a forwarded HEAD came back 502 SIGNATURE_INVALID
// and counted as tampering; it is answered 405 here and nothing goes
// upstream.
func TestHEADRefusedLocally(t *testing.T) {
	h, _ := provisionedHandler(t, "")
	for _, target := range []string{"/v3/pay/transactions/id/4200000001?mchid=1900000001", "/v3/billdownload/file?token=t"} {
		r := httptest.NewRequest(http.MethodHead, "http://127.0.0.1"+target, nil)
		w, fw, _ := serve(t, h, r, func(w http.ResponseWriter, r *http.Request) {
			body := `{"id":"4200000001"}`
			testkit.SignWechatPay(t, w.Header(), testkit.Creds().WechatPayKey, testkit.Creds().PublicKeyID, time.Now().Unix(), testkit.RandomAlnum(32), []byte(body), "")
			w.WriteHeader(http.StatusOK)
		})
		if fw != nil {
			t.Errorf("HEAD %s went upstream", target)
		}
		if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Body.String(), "METHOD_NOT_ALLOWED") ||
			!strings.Contains(w.Header().Get("Allow"), "GET") {
			t.Errorf("HEAD %s: %d %s (Allow %q)", target, w.Code, w.Body, w.Header().Get("Allow"))
		}
	}
}

// TestNotifyClockHintOnlyWhenSigned: a stale callback whose Date agrees
// with its timestamp names this host's clock only when WeChat Pay signed
// it; a forged one (another key) gets neither the hint nor a clock line in
// the log.
func TestNotifyClockHintOnlyWhenSigned(t *testing.T) {
	h, logs := notifyHandler(t, nil)
	c := testkit.Creds()
	stale := func(key bool) testkit.Callback {
		spec := testkit.CallbackSpec{TimeShift: -400 * time.Second}
		if !key {
			spec.SignKey = c.PlatformKey
		}
		cb := testkit.BuildCallback(t, spec)
		cb.Header.Set("Date", time.Now().Add(-400*time.Second).UTC().Format(http.TimeFormat))
		return cb
	}
	w := deliver(t, h, stale(false), &fakeApp{status: 200})
	if w.Code != 401 || !strings.Contains(w.Body.String(), "TIMESTAMP_EXPIRED") {
		t.Fatalf("forged: %d %s", w.Code, w.Body)
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message+strings.Join(fieldStrings(e.ContextMap()), " "), "clock") {
			t.Errorf("a forged callback made a clock line: %s %v", e.Message, e.ContextMap())
		}
	}
	if strings.Contains(w.Body.String(), "clock") || strings.Contains(w.Body.String(), "ahead") {
		t.Errorf("a forged callback was told this host's clock: %s", w.Body)
	}
	w = deliver(t, h, stale(true), &fakeApp{status: 200})
	if w.Code != 401 || !strings.Contains(w.Body.String(), "this host's clock is 40") {
		t.Errorf("signed by WeChat Pay: %d %s", w.Code, w.Body)
	}
}

func fieldStrings(m map[string]any) []string {
	var out []string
	for k, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, k+"="+s)
		}
	}
	return out
}

// TestUnreachableSaysNotSentOnlyWhenSo: a 503 is "not sent" only when
// Caddy had no upstream; an upstream's own 503, which an lb_retry_match
// on a status turns into an error once the retries are spent, was sent.
func TestUnreachableSaysNotSentOnlyWhenSo(t *testing.T) {
	answered := caddyhttp.Error(http.StatusServiceUnavailable, errors.New("upstream response matched retry_match (status 503)"))
	if ae := upstreamError(answered); ae.code != codeUpstreamUnreachable || strings.Contains(ae.message, "not sent") {
		t.Errorf("an answered request: %s %s", ae.code, ae.message)
	}
	noUpstream := caddyhttp.Error(http.StatusServiceUnavailable, errors.New("no upstreams available"))
	if ae := upstreamError(noUpstream); !strings.Contains(ae.message, "not sent") {
		t.Errorf("no upstream available: %s %s", ae.code, ae.message)
	}
}

// TestClaimedTooLargeAnsweredAtOnce: a Content-Length over max_body gets
// its 413 at once, whether or not the client sends the body; the
// connection is not held waiting for bytes that may never come.
func TestClaimedTooLargeAnsweredAtOnce(t *testing.T) {
	h, _ := provisionedHandler(t, `,"max_body":65536`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveInto(t, h, w, r)
	}))
	t.Cleanup(srv.Close)
	for _, claimed := range []string{"100000", "2000000"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = conn.Write([]byte("POST /v3/merchant/media/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + claimed + "\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("Content-Length %s, nothing sent: no answer (%v)", claimed, err)
		} else if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("Content-Length %s: %d", claimed, resp.StatusCode)
		}
		conn.Close()
	}
}

// TestReSignDoesNotEchoMemberNames: a member the re-sign route refuses is
// not quoted back (a page could make the proxy write its text).
func TestReSignDoesNotEchoMemberNames(t *testing.T) {
	h, logs := provisionedHandler(t, `,"request_payment":true`)
	name := "<img src=x onerror=alert(1)>" + strings.Repeat("A", 40)
	r := httptest.NewRequest("POST", "http://127.0.0.1"+requestPaymentPath,
		strings.NewReader(`{"type":"jsapi","appid":"wx8888888888888888","prepay_id":"wx201410272009395522657a690389285100","`+name+`":"1"}`))
	w, _, _ := serve(t, h, r, nil)
	if w.Code != 400 || strings.Contains(w.Body.String(), "onerror") || strings.Contains(w.Body.String(), "AAAA") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	for _, e := range logs.All() {
		if strings.Contains(strings.Join(fieldStrings(e.ContextMap()), " "), "onerror") {
			t.Errorf("the log quotes the member's name: %v", e.ContextMap())
		}
	}
}

// serveInto runs one request through h on a real server's response writer,
// with a next handler that reads the body and answers 200.
func serveInto(t *testing.T, h *Handler, w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r)))
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		return nil
	})
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Error(err)
	}
}

package wechatpay

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// signedStatus is a next handler answering status and body, signed as
// WeChat Pay signs its answers (refusals included).
func signedStatus(t testing.TB, status int, body string) caddyhttp.Handler {
	c := testkit.Creds()
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		testkit.SignWechatPay(t, w.Header(), c.WechatPayKey, c.PublicKeyID, time.Now().Unix(), testkit.RandomAlnum(32), []byte(body), "")
		w.WriteHeader(status)
		_, err := w.Write([]byte(body))
		return err
	})
}

// refusalsMetric has a test of its own (TestUpstreamRefusalMetrics).
const refusalsMetric = "caddy_wechatpay_upstream_refusals_total"

// refusalLines returns the upstream_refusals_total series of lines.
func refusalLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "caddy_wechatpay_upstream_refusals_total") {
			out = append(out, l)
		}
	}
	return out
}

// TestUpstreamRefusalMetrics: WeChat Pay's signed refusals are counted by
// status class and WeChat Pay's code from a closed list (anything else is
// other); the series alerts watch exist at 0 from the start.
func TestUpstreamRefusalMetrics(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, ""))
	const mch = `merchant="1900000001"`
	assertLines(t, refusalLines(scrape(t, reg)), []string{
		`caddy_wechatpay_upstream_refusals_total{class="4xx",code="SIGN_ERROR",` + mch + `} 0`,
		`caddy_wechatpay_upstream_refusals_total{class="4xx",code="other",` + mch + `} 0`,
		`caddy_wechatpay_upstream_refusals_total{class="5xx",code="other",` + mch + `} 0`,
	})
	const path = "/v3/pay/transactions/out-trade-no/ORDER-1?mchid=1900000001"
	if w := call(t, h, "GET", path, "", signedStatus(t, 401, `{"code":"SIGN_ERROR","message":"商户证书序列号有误"}`)); w.Code != 401 ||
		!strings.Contains(w.Body.String(), "SIGN_ERROR") {
		t.Fatalf("a signed 401: %d %s, want it passed on", w.Code, w.Body)
	}
	call(t, h, "GET", path, "", signedStatus(t, 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`))
	call(t, h, "GET", path, "", signedStatus(t, 500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`))
	call(t, h, "GET", path, "", signedStatus(t, 403, `{"code":"user-1234 said no","message":"x"}`))
	call(t, h, "GET", path, "", signedStatus(t, 200, `{"trade_state":"SUCCESS"}`))
	lines := scrape(t, reg)
	assertLines(t, refusalLines(lines), []string{
		`caddy_wechatpay_upstream_refusals_total{class="4xx",code="ORDER_NOT_EXIST",` + mch + `} 1`,
		`caddy_wechatpay_upstream_refusals_total{class="4xx",code="SIGN_ERROR",` + mch + `} 1`,
		`caddy_wechatpay_upstream_refusals_total{class="4xx",code="other",` + mch + `} 1`,
		`caddy_wechatpay_upstream_refusals_total{class="5xx",code="SYSTEM_ERROR",` + mch + `} 1`,
		`caddy_wechatpay_upstream_refusals_total{class="5xx",code="other",` + mch + `} 0`,
	})
	if !slices.Contains(lines, `caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",`+mch+`,method="GET",outcome="verified"} 5`) {
		t.Errorf("signed refusals are verified answers: %v", lines)
	}
}

// TestNoUpstream: a route with nothing after wechatpay answers 502
// NO_UPSTREAM naming reverse_proxy, on verified and unverified paths
// alike, and counts no verification failure.
func TestNoUpstream(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, ""))
	nothing := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	for _, target := range []string{"/v3/pay/transactions/out-trade-no/ORDER-1?mchid=1900000001", "/v3/billdownload/file?token=T"} {
		w := call(t, h, "GET", target, "", nothing)
		if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), `"code":"NO_UPSTREAM"`) ||
			!strings.Contains(w.Body.String(), "reverse_proxy") {
			t.Errorf("%s with nothing after wechatpay: %d %s", target, w.Code, w.Body)
		}
	}
	for _, l := range scrape(t, reg) {
		if strings.HasPrefix(l, "caddy_wechatpay_response_verification_failures_total") && !strings.HasSuffix(l, " 0") {
			t.Errorf("counted as a verification failure: %s", l)
		}
	}
}

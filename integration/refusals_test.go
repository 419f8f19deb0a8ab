package integration

import (
	"slices"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationWeChatPayRefusals: WeChat Pay's signed 401 SIGN_ERROR
// reaches the app as it is and is counted by its code; a route with no
// reverse_proxy after wechatpay answers 502 NO_UPSTREAM and counts no
// verification failure.
func TestIntegrationWeChatPayRefusals(t *testing.T) {
	stub := testkit.NewStub(t)
	c := testkit.Creds()
	tester := newTester(t)
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	keys := `mchid          ` + c.MchID + `
			serial_no      ` + c.SerialNo + `
			private_key    ` + key + `
			public_key_id  ` + c.PublicKeyID + `
			public_key     ` + pub
	cfg := "{\n" + testGlobals("1ns") + `}
` + proxyURL + ` {
	bind 127.0.0.1
	handle_path /bare/* {
		wechatpay {
			` + keys + `
		}
	}
	handle {
		wechatpay {
			` + keys + `
		}
		reverse_proxy ` + strings.TrimPrefix(stub.URL, "http://") + `
	}
}
`
	loadCaddyfile(t, tester, cfg)
	if t.Failed() {
		t.FailNow()
	}

	stub.SetResponse(testkit.StubResponse{Status: 401, Body: `{"code":"SIGN_ERROR","message":"商户证书序列号有误"}`})
	resp, body := send(t, tester, "GET", "/v3/pay/transactions/out-trade-no/ORDER-1?mchid="+c.MchID, nil)
	if resp.StatusCode != 401 || !strings.Contains(string(body), "SIGN_ERROR") {
		t.Fatalf("WeChat Pay's signed 401: %d %s", resp.StatusCode, body)
	}
	stub.Reset()
	n := len(stub.Requests())
	resp, body = send(t, tester, "GET", "/bare/v3/pay/transactions/out-trade-no/ORDER-2?mchid="+c.MchID, nil)
	if resp.StatusCode != 502 || !strings.Contains(string(body), `"code":"NO_UPSTREAM"`) || !strings.Contains(string(body), "reverse_proxy") {
		t.Errorf("nothing after wechatpay: %d %s", resp.StatusCode, body)
	}
	if len(stub.Requests()) != n {
		t.Error("a request without reverse_proxy reached the stand-in")
	}
	got, _, _ := scrapeMetrics(t, metricsURL)
	mch := `merchant="` + c.MchID + `"`
	for _, want := range []string{
		`caddy_wechatpay_upstream_refusals_total{class="4xx",code="SIGN_ERROR",` + mch + `} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",` + mch + `,method="GET",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",` + mch + `,method="GET",outcome="NO_UPSTREAM"} 1`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, l := range got {
		if strings.HasPrefix(l, "caddy_wechatpay_response_verification_failures_total") && !strings.HasSuffix(l, " 0") {
			t.Errorf("counted as a verification failure: %s", l)
		}
	}
}

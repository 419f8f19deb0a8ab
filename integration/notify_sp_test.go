package integration

import (
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationNotifyMerchantHeaders: the app learns whose callback it is
// from headers taken from the decrypted resource WeChat Pay signed:
// Wechatpay-Mchid (sp_mchid of a service provider's callback, else mchid)
// and Wechatpay-Sub-Mchid (sub_mchid); headers of those names sent with
// the callback never reach the app.
func TestIntegrationNotifyMerchantHeaders(t *testing.T) {
	app := newStandInApp(t)
	tester, _ := startNotifyProxy(t, app)
	for _, tc := range []struct {
		name, plaintext, mchid, sub string
	}{
		{"a merchant's", testkit.Transaction, "1900000001", ""},
		{"a service provider's", `{"sp_mchid":"1900000100","sub_mchid":"1900000109","sp_appid":"wx8888888888888888",` +
			`"out_trade_no":"ORDER-1","transaction_id":"4200000000000000000000000001","trade_state":"SUCCESS",` +
			`"amount":{"total":100,"currency":"CNY"}}`, "1900000100", "1900000109"},
		{"one with a malformed sub_mchid", `{"sp_mchid":"1900000100","sub_mchid":"19000001<script>","trade_state":"SUCCESS"}`, "1900000100", ""},
	} {
		app.set(200)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{Plaintext: tc.plaintext})
		cb.Header.Set("Wechatpay-Sub-Mchid", "6666666666")
		cb.Header.Set("Wechatpay-Mchid", "7777777777")
		resp, out := sendCallback(t, tester, "/wechatpay/notify", cb)
		calls := app.calls()
		if resp.StatusCode != 204 || len(calls) != 1 {
			t.Fatalf("%s: %d %s, %d app calls", tc.name, resp.StatusCode, out, len(calls))
		}
		h := calls[0].header
		if got := h.Get("Wechatpay-Mchid"); got != tc.mchid {
			t.Errorf("%s: Wechatpay-Mchid %q, want %q", tc.name, got, tc.mchid)
		}
		if got := h.Values("Wechatpay-Sub-Mchid"); strings.Join(got, ",") != tc.sub {
			t.Errorf("%s: Wechatpay-Sub-Mchid %q, want %q", tc.name, got, tc.sub)
		}
	}
}

package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationFrontendSign runs a real Caddy, every log at DEBUG, with
// a merchant of the wechatpay app holding an APIv2 key ({file.}) and a
// handler naming it: the three front-end form routes answer signs that an
// HMAC computed here accepts, nothing goes upstream, a forged input is
// refused unsigned, and neither the log, the refusals nor the JSON
// configuration the admin API serves holds the key or a sign.
func TestIntegrationFrontendSign(t *testing.T) {
	const apiv2 = "Zq3xK9mP2vL8nB4cR7tY1wE6uI0oA5sD"
	c := testkit.Creds()
	stub := testkit.NewStub(t)
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	keyFile := testkit.WriteFile(t, dir, "apiv2_key.txt", apiv2+"\n")
	logFile := filepath.Join(dir, "caddy.log")
	tester := newTester(t)
	loadCaddyfile(t, tester, "{\n"+testGlobals("1ns")+`	log {
		output file `+logFile+`
		level DEBUG
	}
	wechatpay {
		merchant shop {
			mchid         `+c.MchID+`
			serial_no     `+c.SerialNo+`
			private_key   `+key+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+pub+`
			apiv2_key     {file.`+keyFile+`}
		}
	}
}
`+proxyURL+` {
	bind 127.0.0.1
	wechatpay {
		merchant shop
	}
	reverse_proxy `+strings.TrimPrefix(stub.URL, "http://")+`
}
`)
	if t.Failed() {
		t.FailNow()
	}
	hmacV2 := func(message string) string {
		mac := hmac.New(sha256.New, []byte(apiv2))
		mac.Write([]byte(message + "&key=" + apiv2))
		return fmt.Sprintf("%X", mac.Sum(nil))
	}
	var signs []string

	resp, out := send(t, tester, "POST", "/wechatpay/sign/send-coupon",
		[]byte(`{"send_coupon_merchant":"`+c.MchID+`","send_coupon_params":[{"stock_id":"1212","out_request_no":"R1"}]}`))
	var coupon struct {
		Params   []map[string]string `json:"send_coupon_params"`
		Merchant string              `json:"send_coupon_merchant"`
		Sign     string
	}
	_ = json.Unmarshal(out, &coupon)
	if resp.StatusCode != 200 || coupon.Sign != hmacV2("out_request_no0=R1&send_coupon_merchant="+c.MchID+"&stock_id0=1212") ||
		len(coupon.Params) != 1 || coupon.Params[0]["stock_id"] != "1212" {
		t.Fatalf("send-coupon: %d %s", resp.StatusCode, out)
	}
	signs = append(signs, coupon.Sign)

	resp, out = send(t, tester, "POST", "/wechatpay/sign/h5-coupon",
		[]byte(`{"stock_id":"1212","out_request_no":"R2","open_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`))
	var h5 struct{ URL, Sign string }
	_ = json.Unmarshal(out, &h5)
	if resp.StatusCode != 200 || h5.Sign != hmacV2("open_id=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o&out_request_no=R2&send_coupon_merchant="+c.MchID+"&stock_id=1212") ||
		!strings.HasSuffix(h5.URL, "&sign="+h5.Sign+"#wechat_pay&wechat_redirect") {
		t.Fatalf("h5-coupon: %d %s", resp.StatusCode, out)
	}
	signs = append(signs, h5.Sign)

	resp, out = send(t, tester, "POST", "/wechatpay/sign/payscore-detail", []byte(`{"service_id":"88888888000011","out_order_no":"O1"}`))
	var ps struct {
		ExtraData map[string]string `json:"extra_data"`
		Query     string
	}
	_ = json.Unmarshal(out, &ps)
	x := ps.ExtraData
	if resp.StatusCode != 200 || x["sign"] != hmacV2("mch_id="+c.MchID+"&nonce_str="+x["nonce_str"]+"&out_order_no=O1&service_id=88888888000011&sign_type=HMAC-SHA256&timestamp="+x["timestamp"]) ||
		!strings.HasSuffix(ps.Query, "&sign="+x["sign"]) {
		t.Fatalf("payscore-detail: %d %s", resp.StatusCode, out)
	}
	signs = append(signs, x["sign"])

	// A forged input: refused, unsigned, nothing upstream.
	resp, out = send(t, tester, "POST", "/wechatpay/sign/h5-coupon",
		[]byte(`{"stock_id":"1212","out_request_no":"R3","open_id":"o\u0026total_fee=1","appid":"wx1"}`))
	if resp.StatusCode != 400 || !strings.Contains(string(out), `"PARAM_ERROR"`) || strings.Contains(string(out), "sign\"") {
		t.Errorf("forged input: %d %s", resp.StatusCode, out)
	}
	if n := len(stub.Requests()); n != 0 {
		t.Errorf("%d requests went upstream", n)
	}

	// The JSON configuration holds the placeholder only.
	resp2, err := http.Get(adminURL + "/config/")
	if err != nil {
		t.Fatal(err)
	}
	config, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !strings.Contains(string(config), `"apiv2_key":"{file.`) || strings.Contains(string(config), apiv2) {
		t.Errorf("admin config: %s", config)
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "signed a front-end form") {
		t.Errorf("no debug line for the signed forms in\n%s", logs)
	}
	for _, s := range append(signs, apiv2) {
		if strings.Contains(string(logs), s) {
			t.Errorf("the log holds %.8s...", s)
		}
	}
}

// TestIntegrationFrontendSignAbsent: without apiv2_key the routes are
// 404 NOT_FOUND like any path outside /v3/, and nothing goes upstream.
func TestIntegrationFrontendSignAbsent(t *testing.T) {
	tester, stub := startProxy(t, "request_payment")
	for _, path := range []string{"/wechatpay/sign/send-coupon", "/wechatpay/sign/h5-coupon", "/wechatpay/sign/payscore-detail"} {
		resp, out := send(t, tester, "POST", path, []byte(`{"service_id":"1","out_order_no":"o"}`))
		if resp.StatusCode != 404 || !strings.Contains(string(out), `"NOT_FOUND"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, out)
		}
	}
	if n := len(stub.Requests()); n != 0 {
		t.Errorf("%d requests went upstream", n)
	}
}

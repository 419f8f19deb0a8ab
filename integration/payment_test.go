package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// jsapiPrepay is a JSAPI prepay request in plaintext, as an app sends it.
func jsapiPrepay(appID string) []byte {
	return []byte(`{"appid":"` + appID + `","mchid":"` + testkit.Creds().MchID + `",` +
		`"description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018",` +
		`"notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},` +
		`"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`)
}

// TestIntegrationRequestPayment: through a real Caddy, a JSAPI prepay call
// whose request WeChat Pay's stand-in verified with the official SDK gets a
// response that is the stand-in's, byte for byte, plus the invocation
// object, whose paySign the SDK's verifier accepts over the documented
// message.
func TestIntegrationRequestPayment(t *testing.T) {
	const prepay = `{"prepay_id": "wx201410272009395522657a690389285100"}` // white space kept as sent
	tester, stub := startProxy(t, "request_payment")
	stub.SetResponse(testkit.StubResponse{Body: prepay})
	resp, out := send(t, tester, "POST", sandbox.JSAPIPrepayPath, jsapiPrepay("wxd678efh567hg6787"), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	if got := stub.Requests(); len(got) != 1 || got[0].SignatureOK != nil {
		t.Fatalf("the stand-in's SDK judge: %d requests, %v", len(got), got)
	}
	var obj struct{ AppID, TimeStamp, NonceStr, Package, SignType, PaySign string }
	if err := json.Unmarshal(testkit.SplitInvocation(t, out, []byte(prepay)), &obj); err != nil {
		t.Fatal(err)
	}
	if obj.AppID != "wxd678efh567hg6787" || obj.Package != "prepay_id=wx201410272009395522657a690389285100" || obj.SignType != "RSA" {
		t.Errorf("the invocation %+v", obj)
	}
	message := obj.AppID + "\n" + obj.TimeStamp + "\n" + obj.NonceStr + "\n" + obj.Package + "\n"
	v := verifiers.NewSHA256WithRSAPubkeyVerifier("merchant", testkit.Creds().MerchantKey.PublicKey)
	if err := v.Verify(context.Background(), "merchant", message, obj.PaySign); err != nil {
		t.Errorf("the SDK's verifier refuses paySign: %v", err)
	}

	// A forged response gets a 502 and no signature.
	stub.SetResponse(testkit.StubResponse{Body: prepay, SignKey: testkit.Creds().PlatformKey})
	resp, out = send(t, tester, "POST", sandbox.JSAPIPrepayPath, jsapiPrepay("wxd678efh567hg6787"), "Content-Type", "application/json")
	if resp.StatusCode != 502 || bytes.Contains(out, []byte("paySign")) {
		t.Errorf("a forged prepay response: %d %s", resp.StatusCode, out)
	}
}

// TestIntegrationRequestPaymentMerchant: with a merchant of the wechatpay
// app, against the sandbox: the prepay call's invocation, and the same
// prepay_id signed again through POST /wechatpay/request-payment, are both
// accepted by the sandbox's simulated WeChat client, which checks them
// against the prepay_id it issued and the merchant certificate.
func TestIntegrationRequestPaymentMerchant(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	tester := newTester(t)
	loadCaddyfile(t, tester, "{\n"+testGlobals("1ns")+`	wechatpay {
		merchant school {
			mchid         `+c.MchID+`
			serial_no     `+c.SerialNo+`
			private_key   `+key+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+pub+`
		}
	}
}
`+proxyURL+` {
	bind 127.0.0.1
	wechatpay {
		merchant school
		request_payment
	}
	reverse_proxy `+strings.TrimPrefix(cs.TS.URL, "http://")+`
}
`)
	client := func(obj []byte) string {
		t.Helper()
		resp, err := http.Post(cs.TS.URL+sandbox.ClientRequestPaymentPath, "application/json", bytes.NewReader(obj))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var v struct{ Result, Code, Message string }
		_ = json.Unmarshal(body, &v)
		if v.Result != "" {
			return v.Result
		}
		return v.Code + ": " + v.Message
	}

	resp, out := send(t, tester, "POST", sandbox.JSAPIPrepayPath, jsapiPrepay("wxd678efh567hg6787"), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("prepay: %d %s", resp.StatusCode, out)
	}
	var answer struct {
		PrepayID       string          `json:"prepay_id"`
		RequestPayment json.RawMessage `json:"request_payment"`
	}
	if err := json.Unmarshal(out, &answer); err != nil || len(answer.RequestPayment) == 0 {
		t.Fatalf("prepay response %s: %v", out, err)
	}
	if v := client(answer.RequestPayment); v != sandbox.PaymentOK {
		t.Errorf("the simulated client refuses the invocation: %s", v)
	}
	// A tampered paySign is refused by the client.
	tampered := bytes.Replace(answer.RequestPayment, []byte(`"paySign":"`), []byte(`"paySign":"AAAA`), 1)
	if v := client(tampered); !strings.HasPrefix(v, sandbox.PaymentSignInvalid) {
		t.Errorf("a tampered paySign: %s", v)
	}

	// The user reopens the unpaid order: the stored prepay_id is signed again.
	resp, again := send(t, tester, "POST", "/wechatpay/request-payment",
		[]byte(`{"type":"jsapi","appid":"wxd678efh567hg6787","prepay_id":"`+answer.PrepayID+`"}`), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("re-sign: %d %s", resp.StatusCode, again)
	}
	if v := client(again); v != sandbox.PaymentOK {
		t.Errorf("the simulated client refuses the re-signed invocation: %s", v)
	}
}

package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// The invocation objects are judged twice, apart from the module: the
// official SDK's verifier (over the message its PrepayWithRequestPayment
// builds) and signer (PKCS #1 v1.5 is deterministic: the same bytes), and
// the sandbox's simulated WeChat client, which checks the object as the
// client would against the prepay_id it issued.

const (
	testAppID    = "wxd678efh567hg6787"
	testSubAppID = "wx3a9b8c7d6e5f4a3b"
	testSubMchID = "1900000109"
)

// prepayBody returns a plaintext prepay request the sandbox accepts for
// path, from the test merchant; subOpenID picks the partner JSAPI payer.
func prepayBody(path string, subOpenID bool) string {
	mchid := testkit.Creds().MchID
	order := `"description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}`
	subOrders := `"combine_out_trade_no":"P20150806125346","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","sub_orders":[{"mchid":"` + mchid + `","attach":"深圳分店","amount":{"total_amount":100,"currency":"CNY"},"out_trade_no":"20150806125346","description":"腾讯充值中心-QQ会员充值"}]`
	switch path {
	case sandbox.JSAPIPrepayPath:
		return `{"appid":"` + testAppID + `","mchid":"` + mchid + `",` + order + `,"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	case sandbox.PartnerJSAPIPrepayPath:
		payer := `"payer":{"sp_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
		if subOpenID {
			payer = `"payer":{"sub_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS7p"}`
		}
		return `{"sp_appid":"` + testAppID + `","sp_mchid":"` + mchid + `","sub_appid":"` + testSubAppID + `","sub_mchid":"` + testSubMchID + `",` + order + `,` + payer + `}`
	case sandbox.CombineJSAPIPrepayPath:
		return `{"combine_appid":"` + testAppID + `","combine_mchid":"` + mchid + `",` + subOrders + `,"combine_payer_info":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	case sandbox.AppPrepayPath:
		return `{"appid":"` + testAppID + `","mchid":"` + mchid + `",` + order + `}`
	case sandbox.PartnerAppPrepayPath:
		sub := `,"sub_appid":"` + testSubAppID + `"`
		if subOpenID { // here: leave sub_appid out
			sub = ""
		}
		return `{"sp_appid":"` + testAppID + `","sp_mchid":"` + mchid + `","sub_mchid":"` + testSubMchID + `"` + sub + `,` + order + `}`
	case sandbox.CombineAppPrepayPath:
		return `{"combine_appid":"` + testAppID + `","combine_mchid":"` + mchid + `",` + subOrders + `}`
	}
	panic(path)
}

// payThroughHandler sends body to path through h, with the sandbox as
// WeChat Pay, and returns the client's response and the bytes the sandbox
// sent.
func payThroughHandler(t *testing.T, h *Handler, cs *testkit.CertSandbox, path, body string) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	var upstream []byte
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		rec := httptest.NewRecorder()
		cs.Srv.ServeHTTP(rec, r)
		upstream = rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, err := w.Write(upstream)
		return err
	})
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return runHandler(t, h, r, next), upstream
}

// clientVerdict hands the invocation object to the sandbox's simulated
// WeChat client, as a front end would, and returns its verdict.
func clientVerdict(t *testing.T, cs *testkit.CertSandbox, obj []byte) string {
	t.Helper()
	rec := httptest.NewRecorder()
	cs.Srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, sandbox.ClientRequestPaymentPath, bytes.NewReader(obj)))
	var v struct{ Result, Code, Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("the client answered %d %s", rec.Code, rec.Body)
	}
	if v.Result != "" {
		return v.Result
	}
	return v.Code + ": " + v.Message
}

// checkInvocation checks an invocation object with the official SDK: its
// keys and values, the signature verified over the documented message and
// equal to the SDK signer's.
func checkInvocation(t *testing.T, obj []byte, app bool, appID, partnerID, prepayID string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	keys := []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
	if app {
		keys = []string{"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"}
	}
	if len(m) != len(keys) {
		t.Errorf("the object has %d members, want %v: %s", len(m), keys, obj)
	}
	get := func(k string) string {
		v, ok := m[k].(string)
		if !ok {
			t.Fatalf("%s is not a string in %s", k, obj)
		}
		return v
	}
	for _, k := range keys {
		get(k)
	}
	var message, signature string
	if app {
		if get("appid") != appID || get("partnerid") != partnerID || get("prepayid") != prepayID || get("package") != "Sign=WXPay" {
			t.Errorf("APP object %s: want appid %s, partnerid %s, prepayid %s", obj, appID, partnerID, prepayID)
		}
		message = get("appid") + "\n" + get("timestamp") + "\n" + get("noncestr") + "\n" + get("prepayid") + "\n"
		signature = get("sign")
	} else {
		if get("appId") != appID || get("package") != "prepay_id="+prepayID || get("signType") != "RSA" {
			t.Errorf("JSAPI object %s: want appId %s, prepay_id %s", obj, appID, prepayID)
		}
		message = get("appId") + "\n" + get("timeStamp") + "\n" + get("nonceStr") + "\n" + get("package") + "\n"
		signature = get("paySign")
	}
	c := testkit.Creds()
	verifier := verifiers.NewSHA256WithRSAPubkeyVerifier("merchant", c.MerchantKey.PublicKey)
	if err := verifier.Verify(context.Background(), "merchant", message, signature); err != nil {
		t.Errorf("the SDK's verifier refuses the signature: %v", err)
	}
	want, err := (&signers.SHA256WithRSASigner{MchID: c.MchID, CertificateSerialNo: c.SerialNo, PrivateKey: c.MerchantKey}).Sign(context.Background(), message)
	if err != nil || want.Signature != signature {
		t.Errorf("the signature differs from the SDK signer's over the same message (%v)", err)
	}
}

func TestRequestPaymentEveryPrepayEndpoint(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	h, logs := provisionedHandler(t, `,"request_payment":true`)
	mchid := testkit.Creds().MchID
	for _, tc := range []struct {
		name, path       string
		variant          bool
		app              bool
		appID, partnerID string
	}{
		{"jsapi", sandbox.JSAPIPrepayPath, false, false, testAppID, ""},
		{"partner jsapi, sp_openid", sandbox.PartnerJSAPIPrepayPath, false, false, testAppID, ""},
		{"partner jsapi, sub_openid", sandbox.PartnerJSAPIPrepayPath, true, false, testSubAppID, ""},
		{"combine jsapi", sandbox.CombineJSAPIPrepayPath, false, false, testAppID, ""},
		{"app", sandbox.AppPrepayPath, false, true, testAppID, mchid},
		{"partner app, sub_appid", sandbox.PartnerAppPrepayPath, false, true, testSubAppID, testSubMchID},
		{"partner app, no sub_appid", sandbox.PartnerAppPrepayPath, true, true, testAppID, testSubMchID},
		{"combine app", sandbox.CombineAppPrepayPath, false, true, testAppID, mchid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, upstream := payThroughHandler(t, h, cs, tc.path, prepayBody(tc.path, tc.variant))
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			var answer struct {
				PrepayID string `json:"prepay_id"`
			}
			if err := json.Unmarshal(upstream, &answer); err != nil || answer.PrepayID == "" {
				t.Fatalf("the sandbox answered %s", upstream)
			}
			obj := testkit.SplitInvocation(t, w.Body.Bytes(), upstream)
			if w.Header().Get("Content-Length") != fmt.Sprint(w.Body.Len()) {
				t.Errorf("Content-Length %s for %d bytes", w.Header().Get("Content-Length"), w.Body.Len())
			}
			checkInvocation(t, obj, tc.app, tc.appID, tc.partnerID, answer.PrepayID)
			if v := clientVerdict(t, cs, obj); v != sandbox.PaymentOK {
				t.Errorf("the simulated WeChat client refuses the object: %s", v)
			}
		})
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), testAppID) {
			t.Errorf("a log line holds a value of the request: %v", e.ContextMap())
		}
	}
}

// TestRequestPaymentOnlyForVerifiedPrepayIDs: a response that fails
// verification, is not 2xx, or has no prepay_id, or a request without the
// appid field, gets no signature; the response passes as it would without
// the option.
func TestRequestPaymentOnlyForVerifiedPrepayIDs(t *testing.T) {
	stub := testkit.NewStub(t)
	on, logs := provisionedHandler(t, `,"request_payment":true`)
	off, _ := provisionedHandler(t, "")
	const prepay = `{"prepay_id":"wx201410272009395522657a690389285100"}`
	jsapiBody := prepayBody(sandbox.JSAPIPrepayPath, false)
	for _, tc := range []struct {
		name     string
		body     string
		response testkit.StubResponse
		status   int
	}{
		{"forged", jsapiBody, testkit.StubResponse{Body: prepay, SignKey: testkit.Creds().PlatformKey}, 502},
		{"unsigned", jsapiBody, testkit.StubResponse{Body: prepay, NoHeaders: true}, 502},
		{"stale", jsapiBody, testkit.StubResponse{Body: prepay, TimeShift: -6 * 60e9}, 502},
		{"not 2xx", jsapiBody, testkit.StubResponse{Status: 400, Body: `{"code":"PARAM_ERROR","message":"appid mismatch","prepay_id":"wx1"}`}, 400},
		{"202 without prepay_id", jsapiBody, testkit.StubResponse{Status: 202, Body: `{"code_url":"weixin://wxpay/bizpayurl?pr=1"}`}, 202},
		{"prepay_id not a string", jsapiBody, testkit.StubResponse{Body: `{"prepay_id":12}`}, 200},
		{"request without appid", strings.Replace(jsapiBody, `"appid"`, `"app_id"`, 1), testkit.StubResponse{Body: prepay}, 200},
		{"appid given twice", strings.Replace(jsapiBody, `{"appid":"`+testAppID+`"`, `{"appid":"wxA","appid":"wxB"`, 1), testkit.StubResponse{Body: prepay}, 200},
		{"appid with a newline", strings.Replace(jsapiBody, testAppID, `wx1\nPOST`, 1), testkit.StubResponse{Body: prepay}, 200},
		{"response already has the member", jsapiBody, testkit.StubResponse{Body: `{"prepay_id":"wx1","request_payment":{}}`}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]*httptest.ResponseRecorder
			for i, h := range []*Handler{on, off} {
				stub.SetResponse(tc.response)
				r := httptest.NewRequest(http.MethodPost, sandbox.JSAPIPrepayPath, strings.NewReader(tc.body))
				got[i], _, _ = serve(t, h, r, func(w http.ResponseWriter, r *http.Request) { stub.Config.Handler.ServeHTTP(w, r) })
			}
			if got[0].Code != tc.status || got[0].Body.String() != got[1].Body.String() {
				t.Errorf("with request_payment: %d %s; without: %d %s; want %d and the same body",
					got[0].Code, got[0].Body, got[1].Code, got[1].Body, tc.status)
			}
			if strings.Contains(got[0].Body.String(), "paySign") {
				t.Error("a signature was made")
			}
		})
	}
	var reasons []string
	for _, e := range logs.FilterMessage("no payment invocation signed for this prepay response").All() {
		reasons = append(reasons, fmt.Sprint(e.ContextMap()["reason"]))
	}
	for _, want := range []string{"no prepay_id", "prepay_id cannot be read", "the request has no appid", "appid cannot be read", "appid must be", "already has a member"} {
		if !strings.Contains(strings.Join(reasons, "|"), want) {
			t.Errorf("no log line says %q: %q", want, reasons)
		}
	}
}

func TestRequestPaymentNeedsVerification(t *testing.T) {
	c := testkit.Creds()
	dir := t.TempDir()
	_, err := provisionJSON(t, map[string]any{"mchid": c.MchID, "serial_no": c.SerialNo,
		"private_key":   testkit.WriteFile(t, dir, "k.pem", testkit.PKCS8(c.MerchantKey)),
		"public_key_id": c.PublicKeyID, "public_key": testkit.WriteFile(t, dir, "p.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)),
		"request_payment": true, "verify_responses": false})
	if err == nil || !strings.Contains(err.Error(), "request_payment needs verify_responses on") {
		t.Fatalf("Provision: %v", err)
	}
}

// reSign posts body to the re-sign route of h.
func reSign(t *testing.T, h *Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, requestPaymentPath, strings.NewReader(body))
	w, forwarded, _ := serve(t, h, r, nil)
	if forwarded != nil {
		t.Fatalf("the re-sign route went upstream")
	}
	return w
}

func TestReSignRoute(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	h, _ := provisionedHandler(t, `,"request_payment":true`)
	mchid := testkit.Creds().MchID

	// A prepay_id issued (and signed) earlier, invoked again.
	for _, tc := range []struct {
		path string
		body string
		app  bool
	}{
		{sandbox.JSAPIPrepayPath, `{"type":"jsapi","appid":"` + testAppID + `","prepay_id":"%s"}`, false},
		{sandbox.AppPrepayPath, `{"type":"app","appid":"` + testAppID + `","prepay_id":"%s","partnerid":"` + mchid + `"}`, true},
	} {
		w, upstream := payThroughHandler(t, h, cs, tc.path, prepayBody(tc.path, false))
		var answer struct {
			PrepayID string `json:"prepay_id"`
		}
		if err := json.Unmarshal(upstream, &answer); w.Code != 200 || err != nil {
			t.Fatalf("prepay: %d %s", w.Code, w.Body)
		}
		again := reSign(t, h, http.MethodPost, fmt.Sprintf(tc.body, answer.PrepayID))
		if again.Code != 200 || again.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("re-sign: %d %s", again.Code, again.Body)
		}
		partner := ""
		if tc.app {
			partner = mchid
		}
		checkInvocation(t, again.Body.Bytes(), tc.app, testAppID, partner, answer.PrepayID)
		if v := clientVerdict(t, cs, again.Body.Bytes()); v != sandbox.PaymentOK {
			t.Errorf("the simulated WeChat client refuses the re-signed object: %s", v)
		}
	}

	for _, tc := range []struct{ name, body, field string }{
		{"newline in appid", "{\"type\":\"jsapi\",\"appid\":\"wx1\\nPOST\",\"prepay_id\":\"wx2\"}", "appid"},
		{"escaped newline in prepay_id", `{"type":"jsapi","appid":"wx1","prepay_id":"wx2\u000a/v3/x"}`, "prepay_id"},
		{"carriage return", `{"type":"jsapi","appid":"wx1\r","prepay_id":"wx2"}`, "appid"},
		{"prepay_id too long", `{"type":"jsapi","appid":"wx1","prepay_id":"` + strings.Repeat("w", 65) + `"}`, "prepay_id"},
		{"appid too long", `{"type":"jsapi","appid":"` + strings.Repeat("a", 33) + `","prepay_id":"wx2"}`, "appid"},
		{"partnerid not digits", `{"type":"app","appid":"wx1","prepay_id":"wx2","partnerid":"19x"}`, "partnerid"},
		{"missing prepay_id", `{"type":"jsapi","appid":"wx1"}`, "prepay_id"},
		{"missing appid", `{"type":"jsapi","prepay_id":"wx2"}`, "appid"},
		{"missing type", `{"appid":"wx1","prepay_id":"wx2"}`, "type"},
		{"other type", `{"type":"native","appid":"wx1","prepay_id":"wx2"}`, "type"},
		{"app without partnerid", `{"type":"app","appid":"wx1","prepay_id":"wx2"}`, "partnerid"},
		{"jsapi with partnerid", `{"type":"jsapi","appid":"wx1","prepay_id":"wx2","partnerid":"1"}`, "partnerid"},
		{"number", `{"type":"jsapi","appid":"wx1","prepay_id":2}`, "prepay_id"},
		{"unknown member", `{"type":"jsapi","appid":"wx1","prepay_id":"wx2","timestamp":"1"}`, "timestamp"},
		{"member twice", `{"type":"jsapi","appid":"wx1","appid":"wx9","prepay_id":"wx2"}`, "appid"},
		{"not an object", `["jsapi"]`, "body"},
		{"not JSON", `type=jsapi`, "body"},
	} {
		w := reSign(t, h, http.MethodPost, tc.body)
		var e struct{ Code, Message string }
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 400 || e.Code != codeParamError || !strings.Contains(e.Message, tc.field) {
			t.Errorf("%s: %d %s, want 400 PARAM_ERROR naming %s", tc.name, w.Code, w.Body, tc.field)
		}
	}
	if w := reSign(t, h, http.MethodPost, `{"type":"jsapi","appid":"wx1","prepay_id":"`+strings.Repeat("w", 5000)+`"}`); w.Code != 413 {
		t.Errorf("a large body: %d %s", w.Code, w.Body)
	}
	if w := reSign(t, h, http.MethodGet, ""); w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
	off, _ := provisionedHandler(t, "")
	if w := reSign(t, off, http.MethodPost, `{"type":"jsapi","appid":"wx1","prepay_id":"wx2"}`); w.Code != 404 {
		t.Errorf("with request_payment off: %d %s, want 404", w.Code, w.Body)
	}
}

package sandbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	partnerjsapi "github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/app"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// testClock is a settable Config.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// pay posts an invocation object (marshalled, or raw bytes) to the
// simulated client, as a front end would: no Authorization, no signature.
func (h *harness) pay(t *testing.T, obj any) (*http.Response, []byte, Exchange) {
	t.Helper()
	body, ok := obj.([]byte)
	if !ok {
		body = mustJSON(t, obj)
	}
	resp, err := h.ts.Client().Post(h.ts.URL+ClientRequestPaymentPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, rb, h.last(t)
}

// wantPaid checks a 200 {"result":"OK","prepay_id":id} and its Exchange.
func wantPaid(t *testing.T, resp *http.Response, body []byte, x Exchange, id string) {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 ||
		!maps.Equal(got, map[string]string{"result": "OK", "prepay_id": id}) {
		t.Fatalf("got %d %s, want 200 {result: OK, prepay_id: %s}", resp.StatusCode, body, id)
	}
	if st, failed := x.Failed(); failed || x.Invocation == nil || x.Invocation.Verdict != PaymentOK || x.Invocation.PrepayID != id {
		t.Errorf("exchange: failed step %+v, invocation %+v", st, x.Invocation)
	}
	if x.Endpoint != "POST "+ClientRequestPaymentPath {
		t.Errorf("exchange endpoint %q", x.Endpoint)
	}
	if resp.Header.Get("Wechatpay-Signature") != "" {
		t.Error("the simulated client's answer is signed as if WeChat Pay's")
	}
}

// wantRefused checks a 400 with code (and, when field is set, naming it),
// and that the Exchange's verdict says the same.
func wantRefused(t *testing.T, resp *http.Response, body []byte, x Exchange, code, field string) {
	t.Helper()
	e := decodeErr(t, body)
	if resp.StatusCode != 400 || e.Code != code || e.Message == "" || (field != "" && e.Detail["field"] != field) {
		t.Errorf("got %d %s, want 400 %s naming %q", resp.StatusCode, body, code, field)
	}
	if x.Invocation == nil || x.Invocation.Verdict != code {
		t.Errorf("exchange invocation %+v, want verdict %s", x.Invocation, code)
	}
	if _, failed := x.Failed(); !failed {
		t.Error("exchange has no failed step")
	}
}

// sdkSign signs a message with the merchant key through the SDK's signer,
// as PrepayWithRequestPayment does.
func sdkSign(t *testing.T, message string) string {
	t.Helper()
	s := &signers.SHA256WithRSASigner{MchID: creds.MchID, CertificateSerialNo: creds.MerchantSerial, PrivateKey: creds.MerchantPrivateKey}
	res, err := s.Sign(context.Background(), message)
	if err != nil {
		t.Fatal(err)
	}
	return res.Signature
}

func nonce(t *testing.T) string {
	t.Helper()
	n, err := utils.GenerateNonce()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// jsapiObject is a JSAPI invocation signed by the SDK's signer.
func jsapiObject(t *testing.T, appID, prepayID string, at time.Time) map[string]any {
	ts, n, pkg := strconv.FormatInt(at.Unix(), 10), nonce(t), "prepay_id="+prepayID
	return map[string]any{"appId": appID, "timeStamp": ts, "nonceStr": n, "package": pkg, "signType": "RSA",
		"paySign": sdkSign(t, appID+"\n"+ts+"\n"+n+"\n"+pkg+"\n")}
}

// appObject is an APP invocation (the OpenSDK PayReq's documented keys)
// signed by the SDK's signer.
func appObject(t *testing.T, appID, partnerID, prepayID string, at time.Time) map[string]any {
	ts, n := strconv.FormatInt(at.Unix(), 10), nonce(t)
	return map[string]any{"appid": appID, "partnerid": partnerID, "prepayid": prepayID, "package": "Sign=WXPay",
		"noncestr": n, "timestamp": ts, "sign": sdkSign(t, appID+"\n"+ts+"\n"+n+"\n"+prepayID+"\n")}
}

// sdkObject marshals what the SDK returns, as a merchant server would send
// it to its front end, and reads it back as a map.
func sdkObject(t *testing.T, v any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, v), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRequestPaymentAcceptsSDKInvocations(t *testing.T) {
	h := newHarness(t, nil)
	c := h.sdkServiceClient(t)
	ctx := context.Background()

	t.Run("jsapi", func(t *testing.T) {
		r, _, err := (&jsapi.JsapiApiService{Client: c}).PrepayWithRequestPayment(ctx, sdkJSAPIRequest())
		if err != nil {
			t.Fatalf("jsapi.PrepayWithRequestPayment: %v", err)
		}
		// Exactly as marshalled: the six keys, and the SDK's prepay_id.
		resp, body, x := h.pay(t, r)
		wantPaid(t, resp, body, x, *r.PrepayId)
		if inv := x.Invocation; inv.Form != TradeTypeJSAPI || inv.TradeType != TradeTypeJSAPI || inv.AppID != testAppID {
			t.Errorf("invocation %+v", inv)
		}
		// Without prepay_id, as a front end passes it to wx.requestPayment.
		obj := sdkObject(t, r)
		delete(obj, "prepay_id")
		resp, body, x = h.pay(t, obj)
		wantPaid(t, resp, body, x, *r.PrepayId)
		// The same object again: a prepay_id may be invoked until paid.
		resp, body, x = h.pay(t, obj)
		wantPaid(t, resp, body, x, *r.PrepayId)
	})

	t.Run("partner jsapi", func(t *testing.T) {
		svc := &partnerjsapi.JsapiApiService{Client: c}
		for _, tc := range []struct {
			subOpenID bool
			appID     string // the SDK's requestPaymentAppid: the rule is the caller's to know
			verdict   string
		}{
			{true, testSubAppID, PaymentOK},
			{false, testAppID, PaymentOK},
			{true, testAppID, PaymentAppIDMismatch}, // sub_openid: the sub_appid's user
			{false, testSubAppID, PaymentAppIDMismatch},
		} {
			r, _, err := svc.PrepayWithRequestPayment(ctx, sdkPartnerJSAPIRequest(tc.subOpenID), tc.appID)
			if err != nil {
				t.Fatalf("partner jsapi.PrepayWithRequestPayment: %v", err)
			}
			// v0.2.20 marshals appId as "appid": the client wants appId.
			obj := sdkObject(t, r)
			resp, body, x := h.pay(t, obj)
			wantRefused(t, resp, body, x, PaymentParamError, "appId")
			if !strings.Contains(string(body), "appid is spelt appId") {
				t.Errorf("refusal %s does not point at the spelling", body)
			}
			obj["appId"] = obj["appid"]
			delete(obj, "appid")
			resp, body, x = h.pay(t, obj)
			if tc.verdict == PaymentOK {
				wantPaid(t, resp, body, x, *r.PrepayId)
			} else {
				wantRefused(t, resp, body, x, tc.verdict, "appId")
			}
		}
	})

	t.Run("app", func(t *testing.T) {
		r, _, err := (&app.AppApiService{Client: c}).PrepayWithRequestPayment(ctx, sdkAppRequest())
		if err != nil {
			t.Fatalf("app.PrepayWithRequestPayment: %v", err)
		}
		// v0.2.20's object has no appid and camelCase keys (prepayId,
		// partnerId, timeStamp, nonceStr): not the PayReq's.
		resp, body, x := h.pay(t, r)
		wantRefused(t, resp, body, x, PaymentParamError, "appid")
		// Its values under the documented keys, appid from the request.
		obj := map[string]any{"appid": testAppID, "partnerid": *r.PartnerId, "prepayid": *r.PrepayId,
			"package": *r.Package, "noncestr": *r.NonceStr, "timestamp": *r.TimeStamp, "sign": *r.Sign}
		resp, body, x = h.pay(t, obj)
		wantPaid(t, resp, body, x, *r.PrepayId)
		if inv := x.Invocation; inv.Form != TradeTypeApp || inv.PartnerID != creds.MchID || inv.AppID != testAppID {
			t.Errorf("invocation %+v", inv)
		}
	})

	t.Run("partner and combine, signed by the SDK's signer", func(t *testing.T) {
		now := time.Now()
		partnerApp := combinePrepay(t, c, PartnerAppPrepayPath, sdkObject(t, sdkPartnerAppRequest()))
		resp, body, x := h.pay(t, appObject(t, testSubAppID, testSubMchID, partnerApp, now))
		wantPaid(t, resp, body, x, partnerApp)
		resp, body, x = h.pay(t, appObject(t, testSubAppID, creds.MchID, partnerApp, now))
		wantRefused(t, resp, body, x, PaymentPartnerIDMismatch, "partnerid")
		resp, body, x = h.pay(t, appObject(t, testAppID, testSubMchID, partnerApp, now))
		wantRefused(t, resp, body, x, PaymentAppIDMismatch, "appid")

		noSubAppID := sdkObject(t, sdkPartnerAppRequest())
		delete(noSubAppID, "sub_appid")
		spApp := combinePrepay(t, c, PartnerAppPrepayPath, noSubAppID)
		resp, body, x = h.pay(t, appObject(t, testAppID, testSubMchID, spApp, now))
		wantPaid(t, resp, body, x, spApp)

		combineJSAPI := combinePrepay(t, c, CombineJSAPIPrepayPath, combineBody(t, true))
		resp, body, x = h.pay(t, jsapiObject(t, testAppID, combineJSAPI, now))
		wantPaid(t, resp, body, x, combineJSAPI)

		combineApp := combinePrepay(t, c, CombineAppPrepayPath, combineBody(t, false))
		resp, body, x = h.pay(t, appObject(t, testAppID, creds.MchID, combineApp, now))
		wantPaid(t, resp, body, x, combineApp)
		resp, body, x = h.pay(t, appObject(t, testAppID, "1900000110", combineApp, now))
		wantRefused(t, resp, body, x, PaymentPartnerIDMismatch, "partnerid")
	})
}

// flipSignature changes one byte of a base64 signature.
func flipSignature(t *testing.T, sig string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 1
	return base64.StdEncoding.EncodeToString(raw)
}

func TestRequestPaymentRefusals(t *testing.T) {
	h := newHarness(t, nil)
	c := h.sdkServiceClient(t)
	ctx := context.Background()
	jr, _, err := (&jsapi.JsapiApiService{Client: c}).PrepayWithRequestPayment(ctx, sdkJSAPIRequest())
	if err != nil {
		t.Fatal(err)
	}
	ar, _, err := (&app.AppApiService{Client: c}).PrepayWithRequestPayment(ctx, sdkAppRequest())
	if err != nil {
		t.Fatal(err)
	}
	jsapiID, appID := *jr.PrepayId, *ar.PrepayId
	sdkJSAPI := sdkObject(t, jr)
	sdkApp := map[string]any{"appid": testAppID, "partnerid": *ar.PartnerId, "prepayid": appID,
		"package": *ar.Package, "noncestr": *ar.NonceStr, "timestamp": *ar.TimeStamp, "sign": *ar.Sign}
	now := time.Now()
	with := func(base map[string]any, edits map[string]any) map[string]any {
		m := maps.Clone(base)
		for k, v := range edits {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	// A JSAPI object for another appId, consistently signed.
	otherApp := jsapiObject(t, "wx1234567890abcdef", jsapiID, now)
	resign := func(m map[string]any) map[string]any {
		if _, ok := m["paySign"]; ok {
			msg := m["appId"].(string) + "\n" + m["timeStamp"].(string) + "\n" + m["nonceStr"].(string) + "\n" + m["package"].(string) + "\n"
			m["paySign"] = sdkSign(t, msg)
		} else {
			msg := m["appid"].(string) + "\n" + m["timestamp"].(string) + "\n" + m["noncestr"].(string) + "\n" + m["prepayid"].(string) + "\n"
			m["sign"] = sdkSign(t, msg)
		}
		return m
	}
	long := strings.Repeat("a", 33)
	cases := []struct {
		name  string
		obj   any
		code  string
		field string
	}{
		{"tampered paySign", with(sdkJSAPI, map[string]any{"paySign": flipSignature(t, *jr.PaySign)}), PaymentSignInvalid, "paySign"},
		{"paySign not base64", with(sdkJSAPI, map[string]any{"paySign": "not base64!"}), PaymentSignInvalid, "paySign"},
		{"paySign by another key", with(sdkJSAPI, map[string]any{"paySign": otherKeySign(t, *jr.Appid+"\n"+*jr.TimeStamp+"\n"+*jr.NonceStr+"\n"+*jr.Package+"\n")}), PaymentSignInvalid, "paySign"},
		{"paySign over another appId", with(sdkJSAPI, map[string]any{"paySign": otherApp["paySign"], "timeStamp": otherApp["timeStamp"], "nonceStr": otherApp["nonceStr"]}), PaymentSignInvalid, "paySign"},
		{"another appId, signed over it", otherApp, PaymentAppIDMismatch, "appId"},
		{"tampered sign", with(sdkApp, map[string]any{"sign": flipSignature(t, *ar.Sign)}), PaymentSignInvalid, "sign"},
		{"unknown prepay_id", jsapiObject(t, testAppID, "wx20260101100000"+"0123456789abcdef0123", now), PaymentPrepayIDUnknown, "package"},
		{"unknown prepayid", appObject(t, testAppID, creds.MchID, "wx2026010110000000000000000000000000", now), PaymentPrepayIDUnknown, "prepayid"},
		{"JSAPI object for an APP prepay_id", jsapiObject(t, testAppID, appID, now), PaymentTradeTypeMismatch, "package"},
		{"APP object for a JSAPI prepay_id", appObject(t, testAppID, creds.MchID, jsapiID, now), PaymentTradeTypeMismatch, "prepayid"},
		{"APP wrong partnerid", with(sdkApp, map[string]any{"partnerid": "1900000110"}), PaymentPartnerIDMismatch, "partnerid"},
		{"wrong package", resign(with(sdkJSAPI, map[string]any{"package": "prepay_id:" + jsapiID})), PaymentParamError, "package"},
		{"package without prepay_id", resign(with(sdkJSAPI, map[string]any{"package": "prepay_id="})), PaymentParamError, "package"},
		{"APP package in JSAPI", resign(with(sdkJSAPI, map[string]any{"package": "Sign=WXPay"})), PaymentParamError, "package"},
		{"JSAPI package in APP", with(sdkApp, map[string]any{"package": "prepay_id=" + appID}), PaymentParamError, "package"},
		{"signType MD5", with(sdkJSAPI, map[string]any{"signType": "MD5"}), PaymentParamError, "signType"},
		{"signType HMAC-SHA256", with(sdkJSAPI, map[string]any{"signType": "HMAC-SHA256"}), PaymentParamError, "signType"},
		{"signType rsa", with(sdkJSAPI, map[string]any{"signType": "rsa"}), PaymentParamError, "signType"},
		{"prepay_id not package's", with(sdkJSAPI, map[string]any{"prepay_id": appID}), PaymentParamError, "prepay_id"},
		{"extra key", with(sdkJSAPI, map[string]any{"success": "x"}), PaymentParamError, "success"},
		{"extra APP key", with(sdkApp, map[string]any{"extData": "x"}), PaymentParamError, "extData"},
		{"prepay_id key in APP", with(sdkApp, map[string]any{"prepay_id": appID}), PaymentParamError, "prepay_id"},
		{"timeStamp a number", with(sdkJSAPI, map[string]any{"timeStamp": json.Number(*jr.TimeStamp)}), PaymentParamError, "timeStamp"},
		{"timestamp a number", with(sdkApp, map[string]any{"timestamp": json.Number(*ar.TimeStamp)}), PaymentParamError, "timestamp"},
		{"paySign null", with(sdkJSAPI, map[string]any{"paySign": json.RawMessage("null")}), PaymentParamError, "paySign"},
		{"partnerid a number", with(sdkApp, map[string]any{"partnerid": json.Number(creds.MchID)}), PaymentParamError, "partnerid"},
		{"appId empty", with(sdkJSAPI, map[string]any{"appId": ""}), PaymentParamError, "appId"},
		{"nonceStr 33 characters", resign(with(sdkJSAPI, map[string]any{"nonceStr": long})), PaymentParamError, "nonceStr"},
		{"noncestr with a dash", resign(with(sdkApp, map[string]any{"noncestr": "abc-def"})), PaymentParamError, "noncestr"},
		{"timeStamp in milliseconds", resign(with(sdkJSAPI, map[string]any{"timeStamp": strconv.FormatInt(now.UnixMilli(), 10)})), PaymentTimestampInvalid, "timeStamp"},
		{"timeStamp 10 minutes old", resign(with(sdkJSAPI, map[string]any{"timeStamp": strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)})), PaymentTimestampInvalid, "timeStamp"},
		{"timestamp 10 minutes ahead", resign(with(sdkApp, map[string]any{"timestamp": strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)})), PaymentTimestampInvalid, "timestamp"},
		{"timeStamp with a sign", resign(with(sdkJSAPI, map[string]any{"timeStamp": "+" + *jr.TimeStamp})), PaymentParamError, "timeStamp"},
		{"timeStamp RFC 3339", resign(with(sdkJSAPI, map[string]any{"timeStamp": now.Format(time.RFC3339)})), PaymentParamError, "timeStamp"},
		{"appid spelling in JSAPI", with(sdkJSAPI, map[string]any{"appId": nil, "appid": testAppID}), PaymentParamError, "appId"},
		{"repeated key", []byte(`{"appId":"` + testAppID + `","appId":"wx0","timeStamp":"1","nonceStr":"a","package":"prepay_id=x","signType":"RSA","paySign":"x"}`), PaymentParamError, "appId"},
		{"neither form", map[string]any{"foo": "bar"}, PaymentParamError, ""},
		{"both signatures, neither form", map[string]any{"paySign": "x", "sign": "y"}, PaymentParamError, ""},
		{"an array", []any{sdkJSAPI}, PaymentParamError, ""},
		{"a string", "prepay_id=" + jsapiID, PaymentParamError, ""},
		{"not JSON", []byte(`{"appId":`), PaymentParamError, ""},
	}
	for _, k := range jsapiForm.keys {
		cases = append(cases, struct {
			name  string
			obj   any
			code  string
			field string
		}{"JSAPI without " + k, with(sdkJSAPI, map[string]any{k: nil}), PaymentParamError, k})
	}
	for _, k := range appForm.keys {
		cases = append(cases, struct {
			name  string
			obj   any
			code  string
			field string
		}{"APP without " + k, with(sdkApp, map[string]any{k: nil}), PaymentParamError, k})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, x := h.pay(t, tc.obj)
			wantRefused(t, resp, body, x, tc.code, tc.field)
		})
	}
	// The untouched objects still pass: each case changed only its own part.
	resp, body, x := h.pay(t, sdkJSAPI)
	wantPaid(t, resp, body, x, jsapiID)
	resp, body, x = h.pay(t, sdkApp)
	wantPaid(t, resp, body, x, appID)
}

// otherKeySign signs with the SDK's signer and a key the sandbox does not
// know.
func otherKeySign(t *testing.T, message string) string {
	t.Helper()
	s := &signers.SHA256WithRSASigner{MchID: creds.MchID, CertificateSerialNo: creds.MerchantSerial, PrivateKey: otherKey}
	res, err := s.Sign(context.Background(), message)
	if err != nil {
		t.Fatal(err)
	}
	return res.Signature
}

func TestRequestPaymentExpiry(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clk := &testClock{t: start}
	h := newHarness(t, func(c *Config) { c.Now = clk.now })
	r, _, err := (&jsapi.JsapiApiService{Client: h.sdkServiceClient(t)}).PrepayWithRequestPayment(context.Background(), sdkJSAPIRequest())
	if err != nil {
		t.Fatal(err)
	}
	id := *r.PrepayId
	if !strings.HasPrefix(id, "wx"+start.In(chinaZone).Format("20060102150405")) {
		t.Errorf("prepay_id %s does not carry the issue time %s", id, start.In(chinaZone))
	}

	// A second before expiry: accepted, when the merchant signed it then.
	clk.set(start.Add(PrepayIDLifetime - time.Second))
	resp, body, x := h.pay(t, jsapiObject(t, testAppID, id, clk.now()))
	wantPaid(t, resp, body, x, id)
	// The SDK's object made two hours earlier is stale by then.
	resp, body, x = h.pay(t, r)
	wantRefused(t, resp, body, x, PaymentTimestampInvalid, "timeStamp")

	// Two hours after issue: expired, however fresh the signature.
	clk.set(start.Add(PrepayIDLifetime))
	resp, body, x = h.pay(t, jsapiObject(t, testAppID, id, clk.now()))
	wantRefused(t, resp, body, x, PaymentPrepayIDExpired, "package")
	if st, _ := x.Failed(); st.Name != "prepay_id" || !strings.Contains(st.Detail, "expired") {
		t.Errorf("failed step %+v", st)
	}
	clk.set(start.Add(PrepayIDLifetime + 24*time.Hour))
	resp, body, x = h.pay(t, jsapiObject(t, testAppID, id, clk.now()))
	wantRefused(t, resp, body, x, PaymentPrepayIDExpired, "package")
}

func TestRequestPaymentNeedsNoAuthorization(t *testing.T) {
	h := newHarness(t, nil)
	res, err := h.sdkClient(t).Post(context.Background(), h.ts.URL+AppPrepayPath, sdkObject(t, sdkAppRequest()))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		PrepayID string `json:"prepay_id"`
	}
	if err := json.NewDecoder(res.Response.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	// No Authorization, no User-Agent: the WeChat app is not the merchant.
	obj := mustJSON(t, appObject(t, testAppID, creds.MchID, got.PrepayID, time.Now()))
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+ClientRequestPaymentPath, bytes.NewReader(obj))
	req.Header["User-Agent"] = []string{""}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantPaid(t, resp, body, h.last(t), got.PrepayID)

	// A merchant's signed request there is nothing special either: the
	// route is not a WeChat Pay API and ignores Authorization.
	r2, b2 := h.do(t, rawRequest{method: "POST", uri: ClientRequestPaymentPath, body: obj})
	wantPaid(t, r2, b2, h.last(t), got.PrepayID)

	// Only POST.
	r3, b3 := h.do(t, rawRequest{method: "GET", uri: ClientRequestPaymentPath, noAuth: true})
	if r3.StatusCode != http.StatusMethodNotAllowed || gjson.GetBytes(b3, "code").Str != "METHOD_NOT_ALLOWED" {
		t.Errorf("GET: %d %s", r3.StatusCode, b3)
	}
	// Nothing under /sandbox/ is a WeChat Pay path: with a merchant's
	// signature, another /sandbox/ path is the usual signed 404.
	r4, b4 := h.do(t, rawRequest{method: "POST", uri: "/sandbox/client/other", body: []byte(`{}`)})
	if r4.StatusCode != 404 || validate(r4, b4) != nil {
		t.Errorf("/sandbox/client/other: %d %s", r4.StatusCode, b4)
	}
}

package wechatpay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// testAPIv2Key is a throwaway APIv2 key, given through the environment.
const testAPIv2Key = "Zq3xK9mP2vL8nB4cR7tY1wE6uI0oA5sD"

// hmacV2 is the V2 rule computed apart from the module: message is the
// sorted k=v string written out by hand in each test.
func hmacV2(message string) string {
	mac := hmac.New(sha256.New, []byte(testAPIv2Key))
	mac.Write([]byte(message + "&key=" + testAPIv2Key))
	return fmt.Sprintf("%X", mac.Sum(nil))
}

func apiv2Handler(t *testing.T) (*Handler, func() string) {
	t.Helper()
	t.Setenv("TEST_WECHATPAY_APIV2_KEY", testAPIv2Key)
	h, logs := provisionedHandler(t, `,"apiv2_key":"{env.TEST_WECHATPAY_APIV2_KEY}"`)
	return h, func() string {
		var b strings.Builder
		for _, e := range logs.All() {
			line, _ := json.Marshal(e.ContextMap())
			b.WriteString(e.Message + " " + string(line) + "\n")
		}
		return b.String()
	}
}

func postForm(t *testing.T, h *Handler, path, body string) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	w, forwarded, _ := serve(t, h, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)), nil)
	return w, forwarded != nil
}

func TestSendCouponRoute(t *testing.T) {
	h, logText := apiv2Handler(t)
	mchid := testkit.Creds().MchID
	body := `{"send_coupon_params":[{"stock_id":"1212","out_request_no":"REQ1","coupon_code":"c-1"},{"out_request_no":"REQ2","stock_id":"3434"}]}`
	w, forwarded := postForm(t, h, sendCouponPath, body)
	if forwarded || w.Code != 200 {
		t.Fatalf("HTTP %d, forwarded %v: %s", w.Code, forwarded, w.Body)
	}
	want := hmacV2("coupon_code0=c-1&out_request_no0=REQ1&out_request_no1=REQ2&send_coupon_merchant=" + mchid + "&stock_id0=1212&stock_id1=3434")
	wantBody := `{"send_coupon_params":[{"stock_id":"1212","out_request_no":"REQ1","coupon_code":"c-1"},{"out_request_no":"REQ2","stock_id":"3434"}],` +
		`"send_coupon_merchant":"` + mchid + `","sign":"` + want + `"}`
	if w.Body.String() != wantBody {
		t.Fatalf("answer\n got %s\nwant %s", w.Body, wantBody)
	}
	if text := logText(); strings.Contains(text, want) || strings.Contains(text, testAPIv2Key) {
		t.Errorf("a log line holds the sign or the key:\n%s", text)
	}
}

func TestH5CouponRoute(t *testing.T) {
	h, _ := apiv2Handler(t)
	mchid := testkit.Creds().MchID
	w, forwarded := postForm(t, h, h5CouponPath, `{"stock_id":"1234567890000000","out_request_no":"201911280000","send_coupon_merchant":"`+mchid+`","open_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	if forwarded || w.Code != 200 {
		t.Fatalf("HTTP %d, forwarded %v: %s", w.Code, forwarded, w.Body)
	}
	var got struct{ URL, Sign string }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := hmacV2("open_id=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o&out_request_no=201911280000&send_coupon_merchant=" + mchid + "&stock_id=1234567890000000")
	if got.Sign != want {
		t.Fatalf("sign %s, want %s", got.Sign, want)
	}
	u, err := url.Parse(got.URL)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != "https://action.weixin.qq.com/busifavor/getcouponinfo" || u.Fragment != "wechat_pay&wechat_redirect" {
		t.Fatalf("url %s (%v)", got.URL, err)
	}
	q := u.Query()
	if q.Get("sign") != want || q.Get("open_id") != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" || q.Get("send_coupon_merchant") != mchid || len(q) != 5 {
		t.Errorf("query %v", q)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	if strings.Contains(w.Body.String(), `\u0026`) {
		t.Errorf("the URL's & is escaped: %s", w.Body)
	}
}

func TestPayscoreDetailRoute(t *testing.T) {
	h, _ := apiv2Handler(t)
	mchid := testkit.Creds().MchID
	before := time.Now().Unix()
	w, forwarded := postForm(t, h, payscoreDetailPath, `{"service_id":"88888888000011","out_order_no":"1234323JKHDFE1243252"}`)
	if forwarded || w.Code != 200 {
		t.Fatalf("HTTP %d, forwarded %v: %s", w.Code, forwarded, w.Body)
	}
	var got struct {
		ExtraData map[string]string `json:"extra_data"`
		Query     string            `json:"query"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	x := got.ExtraData
	ts, _ := strconv.ParseInt(x["timestamp"], 10, 64)
	if ts < before || ts > time.Now().Unix() || !regexp.MustCompile(`^[0-9A-Za-z]{32}$`).MatchString(x["nonce_str"]) ||
		x["mch_id"] != mchid || x["sign_type"] != "HMAC-SHA256" || len(x) != 7 {
		t.Fatalf("extra_data %v", x)
	}
	want := hmacV2("mch_id=" + mchid + "&nonce_str=" + x["nonce_str"] + "&out_order_no=1234323JKHDFE1243252" +
		"&service_id=88888888000011&sign_type=HMAC-SHA256&timestamp=" + x["timestamp"])
	if x["sign"] != want {
		t.Fatalf("sign %s, want %s", x["sign"], want)
	}
	wantQuery := "mch_id=" + mchid + "&service_id=88888888000011&out_order_no=1234323JKHDFE1243252&timestamp=" + x["timestamp"] +
		"&nonce_str=" + x["nonce_str"] + "&sign_type=HMAC-SHA256&sign=" + want
	if got.Query != wantQuery {
		t.Fatalf("query\n got %s\nwant %s", got.Query, wantQuery)
	}
}

func TestFrontendSignRefusals(t *testing.T) {
	h, logText := apiv2Handler(t)
	for _, tc := range []struct{ path, body, field string }{
		{sendCouponPath, `{"send_coupon_params":[]}`, "send_coupon_params"},
		{sendCouponPath, `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r","appid":"wx1"}]}`, "send_coupon_params[0].appid"},
		{sendCouponPath, `{"send_coupon_merchant":"1900000002","send_coupon_params":[{"stock_id":"1","out_request_no":"r"}]}`, "send_coupon_merchant"},
		{h5CouponPath, `{"stock_id":"1","out_request_no":"SECRETVALUE\u0026total_fee=1","open_id":"o"}`, "out_request_no"},
		{h5CouponPath, `{"stock_id":"1","out_request_no":"r","open_id":"o","open_id":"p"}`, "open_id"},
		{payscoreDetailPath, `{"service_id":"1","out_order_no":"o","nonce_str":"x"}`, "nonce_str"},
		{payscoreDetailPath, `{"service_id":1,"out_order_no":"o"}`, "service_id"},
		{payscoreDetailPath, `not json`, "body"},
	} {
		w, forwarded := postForm(t, h, tc.path, tc.body)
		var e errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if forwarded || w.Code != 400 || e.Code != codeParamError || !strings.HasPrefix(e.Message, tc.field+": ") {
			t.Errorf("%s %s: HTTP %d %s, forwarded %v", tc.path, tc.body, w.Code, w.Body, forwarded)
		}
		if strings.Contains(w.Body.String(), "SECRETVALUE") || strings.Contains(w.Body.String(), "sign\"") {
			t.Errorf("refusal quotes the value or a sign: %s", w.Body)
		}
	}
	w, forwarded, _ := serve(t, h, httptest.NewRequest(http.MethodGet, h5CouponPath, nil), nil)
	if forwarded != nil || w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: HTTP %d %s", w.Code, w.Body)
	}
	if strings.Contains(logText(), "SECRETVALUE") {
		t.Error("a log line quotes a refused value")
	}
}

// TestFrontendSignAbsentWithoutKey: without apiv2_key the routes do not
// exist: 404 NOT_FOUND as for any path outside /v3/, nothing forwarded.
func TestFrontendSignAbsentWithoutKey(t *testing.T) {
	h, _ := provisionedHandler(t, "")
	for path := range frontendForms {
		w, forwarded := postForm(t, h, path, `{"service_id":"1","out_order_no":"o"}`)
		var e errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if forwarded || w.Code != 404 || e.Code != codeNotFound {
			t.Errorf("%s: HTTP %d %s, forwarded %v", path, w.Code, w.Body, forwarded)
		}
	}
}

// TestAPIv2KeyOption: a placeholder only, 32 letters and digits, checked at
// start; no error quotes the key.
func TestAPIv2KeyOption(t *testing.T) {
	short := "shortKEY123"
	t.Setenv("TEST_SHORT_APIV2", short)
	t.Setenv("TEST_PUNCT_APIV2", strings.Repeat("k-", 16))
	keyFile := testkit.WriteFile(t, t.TempDir(), "apiv2.txt", testAPIv2Key+"\n")
	c := testkit.Creds()
	dir := t.TempDir()
	base := `{"mchid":"` + c.MchID + `","serial_no":"` + c.SerialNo + `",
		"private_key":"` + testkit.WriteFile(t, dir, "k.pem", testkit.PKCS8(c.MerchantKey)) + `",
		"public_key_id":"` + c.PublicKeyID + `",
		"public_key":"` + testkit.WriteFile(t, dir, "p.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)) + `"`
	for _, tc := range []struct{ value, want string }{
		{testAPIv2Key, "apiv2_key must be a placeholder"},
		{"{env.TEST_SHORT_APIV2}", "apiv2_key must be 32 characters"},
		{"{env.TEST_PUNCT_APIV2}", "apiv2_key must be ASCII letters and digits"},
		{"{env.TEST_UNSET_APIV2_NOWHERE}", "apiv2_key resolved to nothing"},
		{"x{env.TEST_SHORT_APIV2}", "apiv2_key must be a placeholder"},
		{"{file." + keyFile + "}", ""},
	} {
		h := new(Handler)
		if err := json.Unmarshal([]byte(base+`,"apiv2_key":"`+tc.value+`"}`), h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		err := h.Provision(ctx)
		cancel()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.value, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.value, err, tc.want)
		case err != nil && (strings.Contains(err.Error(), testAPIv2Key) || strings.Contains(err.Error(), short)):
			t.Errorf("the error quotes the key: %v", err)
		}
	}
}

// TestFrontendFormsPassTheSimulatedClient hands each answer, untouched, to
// the sandbox's simulated WeChat client (its own HMAC, apart from the
// module), as a front end would: the <send-coupon> attributes, the H5
// URL, and the payscore detail as extraData, queryString and query.
func TestFrontendFormsPassTheSimulatedClient(t *testing.T) {
	h, _ := apiv2Handler(t)
	cs := testkit.NewCertSandbox(t, func(cfg *sandbox.Config) { cfg.APIv2Key = testAPIv2Key })
	client := func(path string, obj []byte) string {
		rec := httptest.NewRecorder()
		cs.Srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(obj)))
		return rec.Body.String()
	}
	ok := `{"result":"OK"}`
	w, _ := postForm(t, h, sendCouponPath, `{"send_coupon_params":[{"stock_id":"1212","out_request_no":"R1","customize_send_time":"2025-05-20T13:29:35+08:00"}]}`)
	if got := client(sandbox.ClientSendCouponPath, w.Body.Bytes()); got != ok {
		t.Errorf("send-coupon: %s", got)
	}
	w, _ = postForm(t, h, h5CouponPath, `{"stock_id":"1212","out_request_no":"R2","open_id":"oUpF8u","coupon_code":"C-1","customize_send_time":"2025-05-20T13:29:35+08:00"}`)
	if got := client(sandbox.ClientH5CouponPath, w.Body.Bytes()); got != ok {
		t.Errorf("h5-coupon: %s", got)
	}
	w, _ = postForm(t, h, payscoreDetailPath, `{"service_id":"88888888000011","out_order_no":"a|b*c"}`)
	var ps struct {
		ExtraData json.RawMessage `json:"extra_data"`
		Query     string          `json:"query"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ps); err != nil {
		t.Fatal(err)
	}
	query, _ := json.Marshal(ps.Query)
	for _, obj := range []string{
		`{"businessType":"wxpayScoreDetail","extraData":` + string(ps.ExtraData) + `}`,
		`{"businessType":"wxpayScoreDetail","queryString":` + string(query) + `}`,
		`{"businessType":"wxpayScoreDetail","query":` + string(query) + `}`,
	} {
		if got := client(sandbox.ClientPayscoreDetailPath, []byte(obj)); got != ok {
			t.Errorf("payscore-detail %s: %s", obj, got)
		}
	}
}

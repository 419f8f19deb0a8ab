package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// v2Sign signs message (the sorted k=v string, written out by hand) with
// the test set's APIv2 key, computed here apart from the sandbox.
func v2Sign(message string) string {
	mac := hmac.New(sha256.New, []byte(creds.APIv2Key))
	mac.Write([]byte(message + "&key=" + creds.APIv2Key))
	return fmt.Sprintf("%X", mac.Sum(nil))
}

// otherHexDigit is an upper-case hexadecimal digit other than c, to spoil
// a sign by its first digit whatever that digit is.
func otherHexDigit(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func postForm(t *testing.T, h *harness, path, body string) (int, string, Exchange) {
	t.Helper()
	resp, err := h.ts.Client().Post(h.ts.URL+path, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code, Result string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	x := h.last(t)
	if x.Form == nil {
		t.Fatalf("%s: no form recorded", path)
	}
	if e.Result != x.Form.Verdict && e.Code != x.Form.Verdict {
		t.Errorf("%s: answer %+v, recorded verdict %s", path, e, x.Form.Verdict)
	}
	return resp.StatusCode, x.Form.Verdict, x
}

func TestKeygenWritesAPIv2Key(t *testing.T) {
	if len(creds.APIv2Key) != APIv2KeySize || strings.Trim(creds.APIv2Key, nonceSymbols) != "" {
		t.Fatalf("APIv2 key of %d characters", len(creds.APIv2Key))
	}
	info, err := os.Stat(creds.Path(APIv2KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", APIv2KeyFile, err, info)
	}
	loaded, err := LoadCredentials(credsDir)
	if err != nil || loaded.APIv2Key != creds.APIv2Key || loaded.ServerConfig().APIv2Key != creds.APIv2Key {
		t.Fatalf("loaded: %v", err)
	}
}

func TestClientSendCoupon(t *testing.T) {
	h := newHarness(t, nil)
	m := creds.MchID
	good := v2Sign("coupon_code1=C1&out_request_no0=R0&out_request_no1=R1&send_coupon_merchant=" + m + "&stock_id0=11&stock_id1=22")
	obj := func(merchant, sign, extra string) string {
		return `{"send_coupon_params":[{"stock_id":"11","out_request_no":"R0"},{"stock_id":"22","out_request_no":"R1","coupon_code":"C1"` + extra + `}],` +
			`"send_coupon_merchant":"` + merchant + `","sign":"` + sign + `"}`
	}
	for _, tc := range []struct {
		body    string
		status  int
		verdict string
	}{
		{obj(m, good, ""), 200, PaymentOK},
		{obj(m, otherHexDigit(good[0])+good[1:], ""), 400, PaymentSignInvalid},
		{obj(m, good, `,"customize_send_time":"2025-05-20T13:29:35+08:00"`), 400, PaymentSignInvalid}, // a member the sign does not cover
		{obj("1900000002", good, ""), 400, FormMchIDMismatch},
		{obj(m, good, `,"appid":"wx1"`), 400, PaymentParamError},
		{`{"send_coupon_params":[],"send_coupon_merchant":"` + m + `","sign":"` + good + `"}`, 400, PaymentParamError},
	} {
		status, verdict, _ := postForm(t, h, ClientSendCouponPath, tc.body)
		if status != tc.status || verdict != tc.verdict {
			t.Errorf("%s: %d %s, want %d %s", tc.body, status, verdict, tc.status, tc.verdict)
		}
	}
}

func TestClientH5Coupon(t *testing.T) {
	h := newHarness(t, nil)
	m := creds.MchID
	sign := v2Sign("open_id=oUpF8u&out_request_no=R0&send_coupon_merchant=" + m + "&stock_id=11")
	base := "https://action.weixin.qq.com/busifavor/getcouponinfo?stock_id=11&out_request_no=R0&send_coupon_merchant=" + m + "&open_id=oUpF8u&sign="
	for _, tc := range []struct{ url, verdict string }{
		{base + sign + "#wechat_pay&wechat_redirect", PaymentOK},
		{base + sign + "#wechat_redirect", PaymentOK},
		{base + sign, FormRedirectMissing},
		{base + otherHexDigit(sign[0]) + sign[1:] + "#wechat_redirect", PaymentSignInvalid},
		{base + sign + "&coupon_code=C#wechat_redirect", PaymentSignInvalid},
		{strings.Replace(base, "action.weixin.qq.com", "example.com", 1) + sign + "#wechat_redirect", PaymentParamError},
	} {
		_, verdict, _ := postForm(t, h, ClientH5CouponPath, `{"url":"`+tc.url+`"}`)
		if verdict != tc.verdict {
			t.Errorf("%s: %s, want %s", tc.url, verdict, tc.verdict)
		}
	}
}

func TestClientPayscoreDetail(t *testing.T) {
	h := newHarness(t, nil)
	m := creds.MchID
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	signFor := func(ts string) string {
		return v2Sign("mch_id=" + m + "&nonce_str=N1&out_order_no=O1&service_id=88&sign_type=HMAC-SHA256&timestamp=" + ts)
	}
	extra := func(ts, sign string) string {
		return `{"mch_id":"` + m + `","service_id":"88","out_order_no":"O1","timestamp":"` + ts + `","nonce_str":"N1","sign_type":"HMAC-SHA256","sign":"` + sign + `"}`
	}
	query := "mch_id=" + m + "&service_id=88&out_order_no=O1&timestamp=" + ts + "&nonce_str=N1&sign_type=HMAC-SHA256&sign=" + signFor(ts)
	for _, tc := range []struct{ body, verdict string }{
		{`{"businessType":"wxpayScoreDetail","extraData":` + extra(ts, signFor(ts)) + `}`, PaymentOK},
		{`{"businessType":"wxpayScoreDetail","queryString":"` + query + `"}`, PaymentOK},
		{`{"businessType":"wxpayScoreDetail","query":"` + strings.Replace(query, "O1", url.QueryEscape("O1"), 1) + `"}`, PaymentOK},
		{`{"businessType":"wxpayScoreDetail","extraData":` + extra(stale, signFor(stale)) + `}`, PaymentTimestampInvalid},
		{`{"businessType":"wxpayScoreDetail","extraData":` + extra(ts, signFor(stale)) + `}`, PaymentSignInvalid},
		{`{"businessType":"wxpayScoreUse","extraData":` + extra(ts, signFor(ts)) + `}`, PaymentParamError},
		{`{"businessType":"wxpayScoreDetail","extraData":` + extra(ts, signFor(ts)) + `,"query":"` + query + `"}`, PaymentParamError},
	} {
		_, verdict, _ := postForm(t, h, ClientPayscoreDetailPath, tc.body)
		if verdict != tc.verdict {
			t.Errorf("%s: %s, want %s", tc.body, verdict, tc.verdict)
		}
	}
}

func TestClientFormsWithoutAPIv2Key(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.APIv2Key = "" })
	if _, verdict, _ := postForm(t, h, ClientH5CouponPath, `{"url":"x"}`); verdict != FormNoAPIv2Key {
		t.Errorf("verdict %s", verdict)
	}
}

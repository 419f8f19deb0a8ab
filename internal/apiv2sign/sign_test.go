package apiv2sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testKey is a throwaway APIv2 key.
const testKey = "0123456789abcdefABCDEF0123456789"

// independentSign computes the V2 HMAC-SHA256 signature of a message
// written out by hand in each test, with crypto/hmac directly.
func independentSign(key, message string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(message + "&key=" + key))
	return fmt.Sprintf("%X", mac.Sum(nil))
}

// TestDocumentedExample reproduces the example of WeChat Pay's V2 signing
// rule (安全规范, pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3): the
// only published example with its key and HMAC-SHA256 result. The coupon
// and payscore pages publish none that can be reproduced (their sign
// examples are placeholders: "key=xxxxx", a 29-character or non-hex sign).
func TestDocumentedExample(t *testing.T) {
	key := []byte("192006250b4c09247ec02edce69f6a2d")
	params := []Param{{"appid", "wxd930ea5d5a258f4f"}, {"mch_id", "10000100"}, {"device_info", "1000"},
		{"body", "test"}, {"nonce_str", "ibuaiVcKdpRxkhJA"}}
	msg, err := Message(params)
	if err != nil {
		t.Fatal(err)
	}
	if want := "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA"; msg != want {
		t.Fatalf("message:\n got %s\nwant %s", msg, want)
	}
	got, err := Sign(key, params)
	if err != nil {
		t.Fatal(err)
	}
	if want := "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"; got != want {
		t.Fatalf("sign %s, want the documented %s", got, want)
	}
}

// TestCouponPluginDocumentedMessages checks the strings the coupon plugin
// page shows (its sign is not given: key=xxxxx).
func TestCouponPluginDocumentedMessages(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"send_coupon_merchant":"10016226","send_coupon_params":[{"stock_id":"1234567","out_request_no":"abc123"}]}`,
			"out_request_no0=abc123&send_coupon_merchant=10016226&stock_id0=1234567"},
		{`{"send_coupon_merchant":"10016226","send_coupon_params":[{"stock_id":"1234567","out_request_no":"abc123"},{"stock_id":"2345678","out_request_no":"123abc"}]}`,
			"out_request_no0=abc123&out_request_no1=123abc&send_coupon_merchant=10016226&stock_id0=1234567&stock_id1=2345678"},
		{`{"send_coupon_merchant":"10016226","send_coupon_params":[{"stock_id":"1234567","out_request_no":"abc123","coupon_code":"asdsada"}]}`,
			"coupon_code0=asdsada&out_request_no0=abc123&send_coupon_merchant=10016226&stock_id0=1234567"},
	} {
		s, err := ParseSendCoupon([]byte(tc.body), "10016226")
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		msg, err := Message(s.Params())
		if err != nil || msg != tc.want {
			t.Errorf("message %q (%v), want the documented %q", msg, err, tc.want)
		}
	}
}

func TestSendCouponSign(t *testing.T) {
	body := `{"send_coupon_params":[
		{"stock_id":"1212","out_request_no":"REQ0001","create_coupon_merchant":"1900000109"},
		{"out_request_no":"REQ0002","stock_id":"3434","coupon_code":"code_A-1","customize_send_time":"2025-05-20T13:29:35+08:00"}],
		"send_coupon_merchant":"1900000001"}`
	s, err := ParseSendCoupon([]byte(body), "1900000001")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Sign([]byte(testKey), s.Params())
	if err != nil {
		t.Fatal(err)
	}
	want := independentSign(testKey, "coupon_code1=code_A-1&create_coupon_merchant0=1900000109"+
		"&customize_send_time1=2025-05-20T13:29:35+08:00&out_request_no0=REQ0001&out_request_no1=REQ0002"+
		"&send_coupon_merchant=1900000001&stock_id0=1212&stock_id1=3434")
	if got != want {
		t.Fatalf("sign %s, want %s", got, want)
	}
	// Members stay as sent, in order.
	if s.Coupons[1][0] != (Param{"out_request_no", "REQ0002"}) || len(s.Coupons[1]) != 4 {
		t.Errorf("coupon 1 read as %v", s.Coupons[1])
	}
	// send_coupon_merchant left out: this merchant's.
	s, err = ParseSendCoupon([]byte(`{"send_coupon_params":[{"stock_id":"1","out_request_no":"a"}]}`), "1900000001")
	if err != nil || s.Merchant != "1900000001" {
		t.Fatalf("without send_coupon_merchant: %v, %v", s, err)
	}
}

func TestH5CouponSign(t *testing.T) {
	body := `{"stock_id":"1234567890000000","out_request_no":"201911280000","send_coupon_merchant":"1900000001",
		"open_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","coupon_code":"C-1","customize_send_time":"2025-05-20T13:29:35+08:00"}`
	h, err := ParseH5Coupon([]byte(body), "1900000001")
	if err != nil {
		t.Fatal(err)
	}
	sign, err := Sign([]byte(testKey), h.Params)
	if err != nil {
		t.Fatal(err)
	}
	want := independentSign(testKey, "coupon_code=C-1&customize_send_time=2025-05-20T13:29:35+08:00"+
		"&open_id=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o&out_request_no=201911280000&send_coupon_merchant=1900000001&stock_id=1234567890000000")
	if sign != want {
		t.Fatalf("sign %s, want %s", sign, want)
	}
	wantURL := "https://action.weixin.qq.com/busifavor/getcouponinfo?stock_id=1234567890000000&out_request_no=201911280000" +
		"&send_coupon_merchant=1900000001&open_id=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" +
		"&customize_send_time=2025-05-20T13%3A29%3A35%2B08%3A00&coupon_code=C-1&sign=" + want + "#wechat_pay&wechat_redirect"
	if got := h.URL(sign); got != wantURL {
		t.Fatalf("url\n got %s\nwant %s", got, wantURL)
	}
}

func TestPayscoreDetailSign(t *testing.T) {
	now := time.Unix(1530097563, 0)
	p, err := ParsePayscoreDetail([]byte(`{"service_id":"88888888000011","out_order_no":"1234323JKHDFE1243252"}`),
		"1230000109", now, "zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2")
	if err != nil {
		t.Fatal(err)
	}
	sign, err := Sign([]byte(testKey), p.Params())
	if err != nil {
		t.Fatal(err)
	}
	want := independentSign(testKey, "mch_id=1230000109&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2"+
		"&out_order_no=1234323JKHDFE1243252&service_id=88888888000011&sign_type=HMAC-SHA256&timestamp=1530097563")
	if sign != want {
		t.Fatalf("sign %s, want %s", sign, want)
	}
	// The page's queryString example, with this sign.
	wantQuery := "mch_id=1230000109&service_id=88888888000011&out_order_no=1234323JKHDFE1243252" +
		"&timestamp=1530097563&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&sign_type=HMAC-SHA256&sign=" + want
	if got := p.Query(sign); got != wantQuery {
		t.Fatalf("query\n got %s\nwant %s", got, wantQuery)
	}
	// | and * are documented out_order_no characters; the query escapes |.
	p, err = ParsePayscoreDetail([]byte(`{"service_id":"1","out_order_no":"a|b*c"}`), "1230000109", now, "n")
	if err != nil {
		t.Fatal(err)
	}
	if q := p.Query("S"); !strings.Contains(q, "out_order_no=a%7Cb%2Ac&") {
		t.Errorf("query %s", q)
	}
}

func TestMessageRefusals(t *testing.T) {
	for _, ps := range [][]Param{
		{{"a", "x&b=y"}},
		{{"a", "x=y"}},
		{{"a", "x\ny"}},
		{{"a", "x\u2028"}},
		{{"a", "1"}, {"a", "2"}},
		{{"A", "1"}},
		{{"a&b", "1"}},
		{{"", "1"}},
	} {
		if msg, err := Message(ps); err == nil {
			t.Errorf("%v signed as %q", ps, msg)
		}
	}
	if _, err := Sign([]byte("short"), []Param{{"a", "1"}}); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("a short key: %v", err)
	}
	if err := CheckKey([]byte(strings.Repeat("-", KeySize))); err == nil {
		t.Error("a key of punctuation passes")
	}
	// Empty values are left out, as the rule says.
	if msg, _ := Message([]Param{{"b", ""}, {"a", "1"}}); msg != "a=1" {
		t.Errorf("message %q", msg)
	}
}

package apiv2sign

import (
	"strings"
	"testing"
	"time"
)

// FuzzForms feeds any body to the three parsers. Whatever they accept
// signs, and its signed string reads back as exactly the parameters
// accepted, each named from the form's own set: no input makes the string
// say another parameter.
func FuzzForms(f *testing.F) {
	for _, seed := range []string{
		`{"send_coupon_merchant":"1900000001","send_coupon_params":[{"stock_id":"1","out_request_no":"r"}]}`,
		`{"send_coupon_params":[{"stock_id":"1","out_request_no":"r","coupon_code":"c","customize_send_time":"2025-05-20T13:29:35+08:00","create_coupon_merchant":"19000000"}]}`,
		`{"stock_id":"1","out_request_no":"r","open_id":"o","coupon_code":"c"}`,
		`{"service_id":"1","out_order_no":"o|*"}`,
		`{"stock_id":"1\u0026x=1","out_request_no":"r","open_id":"o"}`,
	} {
		f.Add([]byte(seed))
	}
	allowed := func(name string) bool {
		base := strings.TrimRight(name, "0123456789")
		switch base {
		case "send_coupon_merchant", "stock_id", "out_request_no", "coupon_code", "customize_send_time",
			"create_coupon_merchant", "open_id", "mch_id", "service_id", "out_order_no", "timestamp", "nonce_str", "sign_type":
			return true
		}
		return false
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var sets [][]Param
		if s, err := ParseSendCoupon(body, mchid); err == nil {
			sets = append(sets, s.Params())
		}
		if h, err := ParseH5Coupon(body, mchid); err == nil {
			sets = append(sets, h.Params)
		}
		if p, err := ParsePayscoreDetail(body, mchid, time.Unix(1, 0), "nonce"); err == nil {
			sets = append(sets, p.Params())
		}
		for _, ps := range sets {
			msg, err := Message(ps)
			if err != nil {
				t.Fatalf("accepted but not signable: %v", err)
			}
			if _, err := Sign([]byte(testKey), ps); err != nil {
				t.Fatal(err)
			}
			pairs := strings.Split(msg, "&")
			if len(pairs) != len(ps) {
				t.Fatalf("%d parameters read back as %d: %q", len(ps), len(pairs), msg)
			}
			for _, pair := range pairs {
				name, value, ok := strings.Cut(pair, "=")
				if !ok || strings.Contains(value, "=") || !allowed(name) {
					t.Fatalf("signed string %q has pair %q", msg, pair)
				}
			}
		}
	})
}

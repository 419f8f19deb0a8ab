package apiv2sign

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const mchid = "1900000001"

func parseAny(form, body string) error {
	var err error
	switch form {
	case "send-coupon":
		_, err = ParseSendCoupon([]byte(body), mchid)
	case "h5-coupon":
		_, err = ParseH5Coupon([]byte(body), mchid)
	case "payscore-detail":
		_, err = ParsePayscoreDetail([]byte(body), mchid, time.Now(), "n")
	}
	return err
}

func coupons(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"stock_id":"1","out_request_no":"r"}`)
	}
	return `{"send_coupon_params":[` + b.String() + `]}`
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct{ form, body, field string }{
		// the value forms
		{"h5-coupon", `{"stock_id":"1&mch_id=1","out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r=1","open_id":"o"}`, "out_request_no"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o\n"}`, "open_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o\u0026a=b"}`, "open_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o\u000a"}`, "open_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o\u003d"}`, "open_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r_1","open_id":"o"}`, "out_request_no"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"` + strings.Repeat("r", 129) + `","open_id":"o"}`, "out_request_no"},
		{"h5-coupon", `{"stock_id":"123456789012345678901","out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":"","out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","customize_send_time":"2025-05-20 13:29:35"}`, "customize_send_time"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","customize_send_time":"2025-13-40T13:29:35+08:00"}`, "customize_send_time"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","send_coupon_merchant":"1900000002"}`, "send_coupon_merchant"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","send_coupon_merchant":"19"}`, "send_coupon_merchant"},
		// members: unknown, duplicate (also through an escape), missing, not a string
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","mch_id":"1"}`, "mch_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","sign":"A"}`, "sign"},
		{"h5-coupon", `{"stock_id":"1","stock_id":"2","out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":"1","stock\u005fid":"2","out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r"}`, "open_id"},
		{"h5-coupon", `{"stock_id":1,"out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":null,"out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"stock_id":["1"],"out_request_no":"r","open_id":"o"}`, "stock_id"},
		{"h5-coupon", `{"Stock_id":"1","out_request_no":"r","open_id":"o"}`, "Stock_id"},
		// not one JSON object
		{"h5-coupon", `[]`, "body"},
		{"h5-coupon", ``, "body"},
		{"h5-coupon", `{"stock_id":"1"`, "body"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o"}{}`, "body"},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o"} x`, "body"},
		// the coupon plugin
		{"send-coupon", coupons(MaxCoupons + 1), "send_coupon_params"},
		{"send-coupon", coupons(0), "send_coupon_params"},
		{"send-coupon", `{"send_coupon_merchant":"1900000001"}`, "send_coupon_params"},
		{"send-coupon", `{"send_coupon_params":{"stock_id":"1"}}`, "send_coupon_params"},
		{"send-coupon", `{"send_coupon_params":["1"]}`, "send_coupon_params[0]"},
		{"send-coupon", `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r","stock_id0":"2"}]}`, "send_coupon_params[0].stock_id0"},
		{"send-coupon", `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r"},{"stock_id":"1"}]}`, "send_coupon_params[1].out_request_no"},
		{"send-coupon", `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r","coupon_code":"a&key=b"}]}`, "send_coupon_params[0].coupon_code"},
		{"send-coupon", `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r"}],"send_coupon_params":[]}`, "send_coupon_params"},
		{"send-coupon", `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r"}],"sign":"x"}`, "sign"},
		{"send-coupon", `{"send_coupon_params":[{"stock_id":"1","out_request_no":"r","create_coupon_merchant":"x"}]}`, "send_coupon_params[0].create_coupon_merchant"},
		// payscore
		{"payscore-detail", `{"service_id":"1","out_order_no":"o","mch_id":"1"}`, "mch_id"},
		{"payscore-detail", `{"service_id":"1","out_order_no":"o","timestamp":"1"}`, "timestamp"},
		{"payscore-detail", `{"service_id":"a","out_order_no":"o"}`, "service_id"},
		{"payscore-detail", `{"service_id":"1","out_order_no":"` + strings.Repeat("o", 33) + `"}`, "out_order_no"},
		{"payscore-detail", `{"service_id":"1","out_order_no":"o&p"}`, "out_order_no"},
		{"payscore-detail", `{"service_id":"1"}`, "out_order_no"},
	} {
		err := parseAny(tc.form, tc.body)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s %s: accepted (%v)", tc.form, tc.body, err)
			continue
		}
		if fe.Field != tc.field {
			t.Errorf("%s %s: refused %q (%s), want field %q", tc.form, tc.body, fe.Field, fe.Reason, tc.field)
		}
	}
}

func TestAccepted(t *testing.T) {
	for _, tc := range []struct{ form, body string }{
		{"send-coupon", coupons(MaxCoupons)},
		{"send-coupon", coupons(1)},
		{"h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","customize_send_time":"2025-05-20T13:29:35Z"}`},
		{"payscore-detail", `{"out_order_no":"a_b-c|d*e","service_id":"00000000000000000000000000000001"}`},
	} {
		if err := parseAny(tc.form, tc.body); err != nil {
			t.Errorf("%s %s: %v", tc.form, tc.body, err)
		}
	}
}

func TestRefusalQuotesNoValue(t *testing.T) {
	secret := "VALUE0SECRET"
	err := parseAny("h5-coupon", `{"stock_id":"1","out_request_no":"r","open_id":"o","coupon_code":"`+secret+`&"}`)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("refusal %v", err)
	}
}

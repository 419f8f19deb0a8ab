package golivecheck

import (
	"strings"
	"testing"
)

// TestSignErrorHint: WeChat Pay's 401 SIGN_ERROR messages, as its
// documentation and developers quote them (full- and half-width
// punctuation both), point at the option most likely at fault.
func TestSignErrorHint(t *testing.T) {
	for _, tc := range []struct {
		message, field string
		want           string // the hint starts with it
	}{
		{"商户证书序列号有误。请使用签名私钥匹配的证书序列号", "", "serial_no:"},
		{"商户证书序列号有误.请使用签名私钥匹配的证书序列号", "serial_no", "serial_no:"},
		{"错误的签名，验签失败", "signature", "private_key:"},
		{"错误的签名,验签失败", "", "private_key:"},
		{"签名错误，请检查后再试", "signature", "private_key:"},
		{"签名错误,请检查后再试", "", "private_key:"},
		{" 签名信息错误,验签失败", "", "private_key:"},
		{"Http头Authorization中的timestamp与发起请求的时间不得超过5分钟", "", "the clock:"},
		{"Authorization中的timestamp与当前时间相差超过5分钟，请检查系统时间", "timestamp", "the clock:"},
		{"商户号mchid不正确，请检查Authorization中的mchid", "mchid", "mchid:"},
		{"Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》", "authorization", "the Authorization header"},
		{"Authorization不合法", "signature", "the Authorization header"}, // the message wins over detail.field
		{"", "signature", "private_key:"},
		{"", "serial_no", "serial_no:"},
		{"something new", "", "check, in turn: mchid"},
	} {
		got := SignErrorHint(Refusal{Status: 401, Code: "SIGN_ERROR", Message: tc.message, Field: tc.field})
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q (field %q): hint %q, want it to start with %q", tc.message, tc.field, got, tc.want)
		}
	}
}

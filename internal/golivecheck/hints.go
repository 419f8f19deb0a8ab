package golivecheck

import "strings"

// Refusal is WeChat Pay's error answer: its status, code and message, and
// detail.field when it names one.
type Refusal struct {
	Status  int
	Code    string
	Message string
	Field   string // detail.field: "signature", "serial_no", "timestamp"...
}

// The messages WeChat Pay answers a refused signature with (401
// SIGN_ERROR), as its documentation and its developers' forum quote them:
// https://pay.weixin.qq.com/docs/merchant/development/verify-signature-faq/merchant-serial-number-certificate-incorrect.html
// (商户证书序列号有误。请使用签名私钥匹配的证书序列号) and
// https://pay.weixin.qq.com/docs/partner/development/verify-signature-faq/error-statcode401.html
// (错误的签名，验签失败 / 签名错误，请检查后再试). Each is recognised by a
// fragment that survives the full- or half-width punctuation both are
// quoted with.
var signErrorHints = []struct {
	fragments []string // any of them, in the message or detail.field
	hint      string
}{
	{[]string{"序列号", "serial_no"},
		"serial_no: WeChat Pay knows no merchant API certificate of this serial for mchid; serial_no must be the serial of " +
			"apiclient_cert.pem (openssl x509 -in apiclient_cert.pem -noout -serial), not a platform certificate's, and mchid " +
			"the merchant that certificate was issued to (its CN)"},
	{[]string{"timestamp", "时间"},
		"the clock: this host's time is 5 minutes or more away from WeChat Pay's; correct it (NTP)"},
	{[]string{"商户号", "mchid"},
		"mchid: it is not the merchant that serial_no's certificate belongs to"},
	{[]string{"验签", "签名错误", "signature"},
		"private_key: the signature does not verify with the certificate serial_no names, so private_key is not that " +
			"certificate's key (another merchant's key, an older key, or apiclient_cert.pem given for apiclient_key.pem)"},
	{[]string{"Authorization"},
		"the Authorization header was not understood: a proxy or gateway between this host and WeChat Pay may rewrite it"},
}

// SignErrorHint says which option a refusal of the signature most likely
// points at, from WeChat Pay's message (and detail.field): serial_no,
// mchid, private_key or the clock. A message it does not recognise gets
// the three options to check in turn.
func SignErrorHint(r Refusal) string {
	// The message first: it is what WeChat Pay chose to say; then
	// detail.field, which names the part of Authorization at fault.
	for _, matches := range []func(string) bool{
		func(f string) bool { return strings.Contains(r.Message, f) },
		func(f string) bool { return r.Field == f },
	} {
		for _, h := range signErrorHints {
			for _, f := range h.fragments {
				if matches(f) {
					return h.hint
				}
			}
		}
	}
	return "check, in turn: mchid is the merchant number; serial_no is the serial of that merchant's API certificate " +
		"(apiclient_cert.pem); private_key is that certificate's key (apiclient_key.pem)"
}

// refusesSignature reports whether an answer refuses the request's
// signature or credentials: 401 (SIGN_ERROR, or anything else
// unauthorized), or 403 with a signature code.
func refusesSignature(r Refusal) bool {
	return r.Status == 401 || r.Code == "SIGN_ERROR"
}

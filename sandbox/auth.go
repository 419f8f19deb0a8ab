package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AuthScheme is the Authorization scheme WeChat Pay APIv3 accepts.
const AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// TimestampWindow is how far a request timestamp may be from the sandbox's
// clock; a request at exactly this distance or more is refused.
const TimestampWindow = 5 * time.Minute

const authFormatMessage = "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"

// authParams are the parameters of an Authorization header.
var authParams = []string{"mchid", "nonce_str", "signature", "timestamp", "serial_no"}

// parseAuthorization splits `SCHEME k="v",k="v"` into its parameters, in any
// order. All five parameters are required, none may repeat.
func parseAuthorization(h string) (map[string]string, error) {
	if h == "" {
		return nil, fmt.Errorf("missing Authorization header")
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || scheme != AuthScheme {
		return nil, fmt.Errorf("scheme must be %s", AuthScheme)
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("parameter %q is not key=\"value\"", strings.TrimSpace(k))
		}
		k = strings.TrimSpace(k)
		if _, dup := params[k]; dup {
			return nil, fmt.Errorf("parameter %s repeated", k)
		}
		params[k] = v[1 : len(v)-1]
	}
	for _, k := range authParams {
		if params[k] == "" {
			return nil, fmt.Errorf("parameter %s missing", k)
		}
	}
	return params, nil
}

// signInformation is the server's view of the signed message, shown in
// SIGN_ERROR answers as WeChat Pay does.
type signInformation struct {
	Method               string `json:"method"`
	URL                  string `json:"url"`
	TruncatedSignMessage string `json:"truncated_sign_message"`
	SignMessageLength    int    `json:"sign_message_length"`
}

// signError builds a 401 SIGN_ERROR answer.
func signError(message, field, issue string, info *signInformation) *answer {
	detail := map[string]any{"location": "authorization", "field": field, "value": "", "issue": issue}
	if info != nil {
		detail["sign_information"] = info
	}
	return errorAnswer(http.StatusUnauthorized, "SIGN_ERROR", message, detail)
}

// requestURI returns the request target as received.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// authenticate checks the Authorization header; a nil answer means
// accepted. The signed message's body line is the request body, except for
// a multipart/form-data request, where it is the content of the "meta"
// part: that request's parsed form is returned for its endpoint.
func (s *Server) authenticate(r *http.Request, body []byte, x *Exchange, now time.Time) (*uploadForm, *answer) {
	p, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		x.step("authorization format", false, err.Error())
		return nil, signError(authFormatMessage, "authorization", err.Error(), nil)
	}
	x.step("authorization format", true, AuthScheme)

	signed, bodyLine := body, "the request body"
	var form *uploadForm
	if isForm, boundary := formDataBoundary(r.Header.Get("Content-Type")); isForm {
		var a *answer
		if form, a = readSignedForm(boundary, body, x); a != nil {
			return nil, a
		}
		signed = form.meta
		bodyLine = fmt.Sprintf("the %d-byte meta part, not the multipart body", len(form.meta))
	}

	uri := requestURI(r)
	head := fmt.Sprintf("%s\n%s\n%s\n%s\n", r.Method, uri, p["timestamp"], p["nonce_str"])
	message := head + string(signed) + "\n"
	info := &signInformation{
		Method: r.Method, URL: uri,
		// The four header lines only: the body may hold personal data.
		TruncatedSignMessage: head,
		SignMessageLength:    len(message),
	}

	if p["mchid"] != s.cfg.MchID {
		x.step("mchid", false, "Authorization mchid "+p["mchid"]+" is not "+s.cfg.MchID)
		return nil, signError("商户号mchid不正确，请检查Authorization中的mchid", "mchid", "mchid mismatch", nil)
	}
	x.step("mchid", true, p["mchid"])

	if p["serial_no"] != s.merchantSerial {
		x.step("serial_no", false, "Authorization serial_no "+p["serial_no"]+" is not the merchant certificate "+s.merchantSerial)
		return nil, signError("商户证书序列号有误。请使用签名私钥匹配的证书序列号", "serial_no", "certificate serial number not found", nil)
	}
	x.step("serial_no", true, p["serial_no"])

	ts, err := strconv.ParseInt(p["timestamp"], 10, 64)
	if err != nil {
		x.step("timestamp", false, "not a unix timestamp")
		return nil, signError(authFormatMessage, "timestamp", "timestamp is not a number", nil)
	}
	if d := now.Sub(time.Unix(ts, 0)); d >= TimestampWindow || d <= -TimestampWindow {
		x.step("timestamp", false, fmt.Sprintf("%s away from the sandbox clock (limit %s)", d.Round(time.Second), TimestampWindow))
		return nil, signError("Authorization中的timestamp与当前时间相差超过5分钟，请检查系统时间", "timestamp", "timestamp expired", info)
	}
	x.step("timestamp", true, p["timestamp"])

	if !isNonce(p["nonce_str"]) {
		x.step("nonce", false, "nonce_str must be 32 characters from [0-9A-Za-z]")
		return nil, signError(authFormatMessage, "nonce_str", "nonce_str must be 32 characters from [0-9A-Za-z]", nil)
	}
	x.step("nonce", true, "32 characters [0-9A-Za-z]")

	if err := verifySHA256WithRSA(certKey(s.cfg.MerchantCertificate), []byte(message), p["signature"]); err != nil {
		x.step("signature", false, fmt.Sprintf("SHA256withRSA over %d-byte message for %s %s (body line: %s) does not verify with merchant certificate %s",
			len(message), r.Method, uri, bodyLine, s.merchantSerial))
		return nil, signError("错误的签名，验签失败", "signature", "sign not match", info)
	}
	x.step("signature", true, fmt.Sprintf("SHA256withRSA over %d-byte message (body line: %s) verified with merchant certificate %s",
		len(message), bodyLine, s.merchantSerial))

	if !s.nonces.use(p["nonce_str"], now) {
		x.step("replay", false, "nonce_str already used within the timestamp window")
		return nil, signError("请求重放，nonce_str已被使用", "nonce_str", "nonce_str reused", info)
	}
	x.step("replay", true, "nonce_str not seen before")
	return form, nil
}

// nonceCache remembers the nonces of accepted requests long enough to
// cover the timestamp window on both sides.
type nonceCache struct {
	mu        sync.Mutex
	seen      map[string]time.Time
	lastPurge time.Time
}

// use records nonce and reports whether it was unseen.
func (c *nonceCache) use(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	keep := 2 * TimestampWindow
	if now.Sub(c.lastPurge) > time.Minute {
		for n, t := range c.seen {
			if now.Sub(t) > keep {
				delete(c.seen, n)
			}
		}
		c.lastPurge = now
	}
	if t, ok := c.seen[nonce]; ok && now.Sub(t) <= keep {
		return false
	}
	c.seen[nonce] = now
	return true
}

package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// ClientRequestPaymentPath is the simulated WeChat client (POST): it takes
// the invocation object a front end hands to wx.requestPayment or
// WeixinJSBridge getBrandWCPayRequest (JSAPI, mini program) or to the
// OpenSDK's PayReq (APP), and checks it as the client and WeChat Pay would
// before opening the payment sheet. It is the sandbox's own route, under
// /sandbox/ so that it can never be a WeChat Pay API path, and it takes no
// Authorization header: it plays the payer's WeChat, not the merchant.
const ClientRequestPaymentPath = "/sandbox/client/request-payment"

// PaymentTimestampWindow is how far an invocation's timeStamp / timestamp
// may be from the sandbox's clock; at this distance or more it is refused
// (TIMESTAMP_INVALID). The WeChat client publishes no such limit: the
// sandbox takes the one WeChat Pay applies to signed requests, to catch a
// front end that caches an invocation or sends milliseconds.
const PaymentTimestampWindow = TimestampWindow

// Codes of the simulated client's answers: PaymentOK in {"result": ...},
// the others in {"code": ..., "message": ...} with status 400.
const (
	// PaymentOK: the payment sheet would open.
	PaymentOK = "OK"
	// PaymentParamError: the object is not an invocation (not a JSON
	// object, a key missing, misspelt, repeated or unknown, a value not a
	// non-empty string, signType not RSA, package not as documented, a
	// nonce or timestamp malformed).
	PaymentParamError = "PARAM_ERROR"
	// PaymentTimestampInvalid: the timestamp is PaymentTimestampWindow or
	// more away from the sandbox clock.
	PaymentTimestampInvalid = "TIMESTAMP_INVALID"
	// PaymentSignInvalid: paySign / sign does not verify with the merchant
	// certificate over the documented message.
	PaymentSignInvalid = "SIGN_INVALID"
	// PaymentPrepayIDUnknown: the sandbox never issued this prepay_id (or
	// has forgotten it, past MaxPrepayIDs).
	PaymentPrepayIDUnknown = "PREPAY_ID_UNKNOWN"
	// PaymentTradeTypeMismatch: a JSAPI object for an APP prepay_id or the
	// other way round.
	PaymentTradeTypeMismatch = "TRADE_TYPE_MISMATCH"
	// PaymentPrepayIDExpired: PrepayIDLifetime has passed since it was issued.
	PaymentPrepayIDExpired = "PREPAY_ID_EXPIRED"
	// PaymentAppIDMismatch: appId / appid is not the one the order was for.
	PaymentAppIDMismatch = "APPID_MISMATCH"
	// PaymentPartnerIDMismatch: an APP object's partnerid is not the
	// order's merchant (mchid, sub_mchid or combine_mchid).
	PaymentPartnerIDMismatch = "PARTNERID_MISMATCH"
)

// invocationForm is the key set of one form of invocation object.
type invocationForm struct {
	tradeType string
	keys      []string // in the documented order
	// the keys holding each part of the signed message and the signature
	appID, timestamp, nonce, prepay, signature string
	// optional keys: allowed, and checked when present
	optional []string
}

var (
	// jsapiForm is wx.requestPayment's / getBrandWCPayRequest's. The
	// official Go SDK's PrepayWithRequestPayment object carries prepay_id
	// beside them; the client ignores it, the sandbox checks it against
	// package.
	jsapiForm = invocationForm{
		tradeType: TradeTypeJSAPI,
		keys:      []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"},
		appID:     "appId", timestamp: "timeStamp", nonce: "nonceStr", prepay: "package", signature: "paySign",
		optional: []string{"prepay_id"},
	}
	// appForm is the OpenSDK PayReq's, as WeChat Pay documents it.
	appForm = invocationForm{
		tradeType: TradeTypeApp,
		keys:      []string{"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"},
		appID:     "appid", timestamp: "timestamp", nonce: "noncestr", prepay: "prepayid", signature: "sign",
	}
)

// knows reports whether key is one of the form's keys.
func (f invocationForm) knows(key string) bool {
	for _, k := range f.keys {
		if k == key {
			return true
		}
	}
	for _, k := range f.optional {
		if k == key {
			return true
		}
	}
	return false
}

// tellForm picks the form an object is meant to be: paySign is JSAPI's
// signature and sign APP's; with both or neither, the form more of whose
// own keys the object has; ok=false when that does not decide.
func tellForm(keys map[string]bool) (invocationForm, bool) {
	switch {
	case keys["paySign"] && !keys["sign"]:
		return jsapiForm, true
	case keys["sign"] && !keys["paySign"]:
		return appForm, true
	}
	count := func(f invocationForm) (n int) {
		for _, k := range f.keys {
			if keys[k] && k != "package" {
				n++
			}
		}
		return n
	}
	j, a := count(jsapiForm), count(appForm)
	switch {
	case j > a:
		return jsapiForm, true
	case a > j:
		return appForm, true
	}
	return invocationForm{}, false
}

// paymentCheck is one invocation on its way through the checks.
type paymentCheck struct {
	x   *Exchange
	inv *Invocation
}

// refuse records the failed step and the verdict, and builds the 400.
func (c paymentCheck) refuse(step, code, message, field, issue string) *answer {
	c.inv.Verdict = code
	return clientRefusal(c.x, step, code, message, field, issue)
}

// clientAnswerNote is the signature step of the client route's answers.
const clientAnswerNote = "unsigned: the simulated client's own answer, not WeChat Pay's"

// requestPayment checks an invocation object as the WeChat client would
// before it opens the payment sheet; see ClientRequestPaymentPath.
func (s *Server) requestPayment(r *http.Request, body []byte, x *Exchange, now time.Time) *answer {
	x.Endpoint = "POST " + ClientRequestPaymentPath
	inv := &Invocation{}
	x.Invocation = inv
	c := paymentCheck{x: x, inv: inv}
	if r.Method != http.MethodPost {
		x.Endpoint = r.Method + " " + ClientRequestPaymentPath
		inv.Verdict = "METHOD_NOT_ALLOWED"
		x.step("endpoint", false, "the simulated client takes POST")
		a := errorAnswer(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "请使用POST提交调起支付的参数", nil)
		a.unsigned, a.unsignedNote = true, clientAnswerNote
		return a
	}
	x.step("endpoint", true, x.Endpoint+": the simulated WeChat client, no Authorization needed")

	root := gjson.ParseBytes(body)
	if !json.Valid(body) || !root.IsObject() {
		return c.refuse("invocation object", PaymentParamError, "调起支付的参数应为JSON对象", "", "body is not a JSON object")
	}
	keys := map[string]bool{}
	var order []string
	var dup string
	root.ForEach(func(k, _ gjson.Result) bool {
		if keys[k.Str] && dup == "" {
			dup = k.Str
		}
		keys[k.Str] = true
		order = append(order, k.Str)
		return true
	})
	form, ok := tellForm(keys)
	if !ok {
		return c.refuse("invocation form", PaymentParamError,
			"无法识别调起支付的参数：JSAPI/小程序应为appId、timeStamp、nonceStr、package、signType、paySign，APP应为appid、partnerid、prepayid、package、noncestr、timestamp、sign",
			"", "neither the JSAPI keys (appId ... paySign) nor the APP keys (appid ... sign)")
	}
	inv.Form = form.tradeType
	x.step("invocation form", true, form.tradeType+": "+strings.Join(form.keys, ", "))

	if dup != "" {
		return c.refuse("keys", PaymentParamError, "调起支付的参数"+dup+"重复", dup, "key given more than once")
	}
	for _, k := range form.keys {
		if !keys[k] {
			issue := "missing"
			if twin := caseTwin(order, k); twin != "" {
				issue = fmt.Sprintf("missing (%s is spelt %s)", twin, k)
			}
			return c.refuse("keys", PaymentParamError, "调起支付的参数缺少"+k, k, issue)
		}
	}
	for _, k := range order {
		if !form.knows(k) {
			return c.refuse("keys", PaymentParamError, "调起支付的参数"+k+"不存在", k, "unknown key for the "+form.tradeType+" form")
		}
		if v := root.Get(gjson.Escape(k)); v.Type != gjson.String || v.Str == "" {
			return c.refuse("keys", PaymentParamError, "调起支付的参数"+k+"应为非空字符串", k, "must be a non-empty string")
		}
	}
	val := func(k string) string { return root.Get(gjson.Escape(k)).Str }
	x.step("keys", true, "every key present, spelt as documented, a non-empty string; no other key")

	inv.AppID = val(form.appID)
	var prepayID string
	if form.tradeType == TradeTypeJSAPI {
		if st := val("signType"); st != "RSA" {
			return c.refuse("signType", PaymentParamError, "signType应为RSA", "signType", fmt.Sprintf("%q, must be RSA", st))
		}
		id, found := strings.CutPrefix(val("package"), "prepay_id=")
		if !found || id == "" {
			return c.refuse("package", PaymentParamError, "package应为prepay_id=***", "package", "must be prepay_id=<prepay_id>")
		}
		if keys["prepay_id"] && val("prepay_id") != id {
			return c.refuse("package", PaymentParamError, "prepay_id与package不一致", "prepay_id", "differs from the prepay_id in package")
		}
		prepayID = id
		x.step("package", true, "signType RSA, package prepay_id="+id)
	} else {
		if p := val("package"); p != "Sign=WXPay" {
			return c.refuse("package", PaymentParamError, "package应为Sign=WXPay", "package", fmt.Sprintf("%q, must be Sign=WXPay", p))
		}
		prepayID = val("prepayid")
		inv.PartnerID = val("partnerid")
		x.step("package", true, "package Sign=WXPay, prepayid "+prepayID)
	}
	inv.PrepayID = prepayID

	nonce := val(form.nonce)
	if len(nonce) > 32 || strings.Trim(nonce, nonceSymbols) != "" {
		return c.refuse("nonce", PaymentParamError, form.nonce+"应为不超过32位的字母或数字", form.nonce,
			"must be 1 to 32 characters from [0-9A-Za-z]")
	}
	x.step("nonce", true, fmt.Sprintf("%d characters [0-9A-Za-z]", len(nonce)))

	tsText := val(form.timestamp)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || !isDigits(tsText) {
		return c.refuse("timestamp", PaymentParamError, form.timestamp+"应为以秒为单位的时间戳", form.timestamp,
			"must be unix time in seconds, decimal digits")
	}
	if d := now.Sub(time.Unix(ts, 0)); d >= PaymentTimestampWindow || d <= -PaymentTimestampWindow {
		issue := fmt.Sprintf("%s away from the sandbox clock (limit %s)", d.Round(time.Second), PaymentTimestampWindow)
		if len(tsText) >= 13 {
			issue += "; milliseconds? it must be seconds"
		}
		return c.refuse("timestamp", PaymentTimestampInvalid, form.timestamp+"与当前时间相差过大", form.timestamp, issue)
	}
	x.step("timestamp", true, tsText)

	message := inv.AppID + "\n" + tsText + "\n" + nonce + "\n" + val(form.prepay) + "\n"
	if err := verifySHA256WithRSA(certKey(s.cfg.MerchantCertificate), []byte(message), val(form.signature)); err != nil {
		return c.refuse("signature", PaymentSignInvalid, "支付签名验证失败", form.signature,
			fmt.Sprintf("SHA256withRSA over %s\\n%s\\n%s\\n%s\\n does not verify with merchant certificate %s",
				form.appID, form.timestamp, form.nonce, form.prepay, s.merchantSerial))
	}
	x.step("signature", true, fmt.Sprintf("SHA256withRSA over %s\\n%s\\n%s\\n%s\\n verified with merchant certificate %s",
		form.appID, form.timestamp, form.nonce, form.prepay, s.merchantSerial))

	o, known := s.prepays.lookup(prepayID)
	if !known {
		return c.refuse("prepay_id", PaymentPrepayIDUnknown, "prepay_id不存在", form.prepay, prepayID+" was not issued by the sandbox (or is forgotten)")
	}
	inv.TradeType = o.tradeType
	if o.tradeType != form.tradeType {
		return c.refuse("prepay_id", PaymentTradeTypeMismatch, "prepay_id的交易类型与调起方式不符", form.prepay,
			fmt.Sprintf("%s was issued by %s (%s), opened with the %s form", prepayID, o.endpoint, o.tradeType, form.tradeType))
	}
	if !now.Before(o.expires) {
		return c.refuse("prepay_id", PaymentPrepayIDExpired, "prepay_id已过期", form.prepay,
			fmt.Sprintf("issued %s, expired %s", o.issued.In(chinaZone).Format(time.RFC3339), o.expires.In(chinaZone).Format(time.RFC3339)))
	}
	x.step("prepay_id", true, fmt.Sprintf("issued by %s, valid until %s", o.endpoint, o.expires.In(chinaZone).Format(time.RFC3339)))
	if inv.AppID != o.appID {
		return c.refuse("appid", PaymentAppIDMismatch, form.appID+"与下单时的appid不一致", form.appID,
			fmt.Sprintf("%s, the order is for %s", inv.AppID, o.appID))
	}
	x.step("appid", true, inv.AppID)
	if form.tradeType == TradeTypeApp {
		if inv.PartnerID != o.partnerID {
			return c.refuse("partnerid", PaymentPartnerIDMismatch, "partnerid与下单的商户号不一致", "partnerid",
				fmt.Sprintf("%s, the order's merchant is %s", inv.PartnerID, o.partnerID))
		}
		x.step("partnerid", true, inv.PartnerID)
	}

	inv.Verdict = PaymentOK
	a := jsonAnswer(http.StatusOK, map[string]string{"result": PaymentOK, "prepay_id": prepayID})
	a.unsigned, a.unsignedNote = true, clientAnswerNote
	return a
}

// caseTwin returns a key of the object that is want in another case.
func caseTwin(keys []string, want string) string {
	for _, k := range keys {
		if k != want && strings.EqualFold(k, want) {
			return k
		}
	}
	return ""
}

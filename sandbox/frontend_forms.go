package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// The simulated WeChat client's front-end form routes (POST, no
// Authorization: they play the payer's WeChat). Each takes what a front
// end hands to WeChat and checks it as WeChat Pay would, the APIv2-key sign
// included (HMAC-SHA256 over the sorted k=v string and &key=, computed here
// apart from the module), and answers {"result":"OK"} or a 400 whose code
// names the failure.
const (
	// ClientSendCouponPath takes the attributes of the coupon plugin's
	// <send-coupon> component (小程序发券插件): {"send_coupon_params":[...],
	// "send_coupon_merchant":"...","sign":"..."}.
	ClientSendCouponPath = "/sandbox/client/send-coupon"
	// ClientH5CouponPath takes {"url":"https://action.weixin.qq.com/
	// busifavor/getcouponinfo?...#..."}: the H5 coupon page the front end
	// redirects to (H5发券).
	ClientH5CouponPath = "/sandbox/client/h5-coupon"
	// ClientPayscoreDetailPath takes the payscore order detail call
	// (wxpayScoreDetail): {"businessType":"wxpayScoreDetail"} with
	// "extraData" (mini program wx.openBusinessView), "queryString" (JSAPI
	// openBusinessView) or "query" (APP WXOpenBusinessView).
	ClientPayscoreDetailPath = "/sandbox/client/payscore-detail"
)

// Verdicts of the form routes besides PaymentOK, PaymentParamError,
// PaymentSignInvalid and PaymentTimestampInvalid.
const (
	// FormMchIDMismatch: send_coupon_merchant / mch_id is not the sandbox
	// merchant (whose APIv2 key signs).
	FormMchIDMismatch = "MCHID_MISMATCH"
	// FormRedirectMissing: the H5 coupon URL lacks #...wechat_redirect;
	// WeChat answers it with error 268435461.
	FormRedirectMissing = "268435461"
	// FormNoAPIv2Key: the sandbox was started without an APIv2 key.
	FormNoAPIv2Key = "NO_APIV2_KEY"
)

// ClientForm is a front-end form the simulated client checked.
type ClientForm struct {
	// Kind is "send-coupon", "h5-coupon" or "payscore-detail".
	Kind string
	// Params are the signed parameters as the client read them (sign left
	// out), sorted by name; nil when the checks stopped before.
	Params []string
	// Verdict is PaymentOK or the refusal's code; the failed Step says why.
	Verdict string
}

// formCheck checks one kind of form; it returns the parameters to verify
// the sign over and the sign, or the refusal.
type formCheck struct {
	kind  string
	check func(c formRun, root gjson.Result) (params map[string]string, sign string, a *answer)
}

var clientForms = map[string]*formCheck{
	ClientSendCouponPath:     {"send-coupon", checkSendCoupon},
	ClientH5CouponPath:       {"h5-coupon", checkH5Coupon},
	ClientPayscoreDetailPath: {"payscore-detail", checkPayscoreDetail},
}

// formRun is one form on its way through the checks.
type formRun struct {
	s    *Server
	x    *Exchange
	form *ClientForm
	now  time.Time
}

func (c formRun) refuse(step, code, message, field, issue string) *answer {
	c.form.Verdict = code
	return clientRefusal(c.x, step, code, message, field, issue)
}

// clientRefusal records the failed step of a simulated client route and
// builds its 400, unsigned: the client's own answer, not WeChat Pay's.
func clientRefusal(x *Exchange, step, code, message, field, issue string) *answer {
	x.step(step, false, issue)
	var detail any
	if field != "" {
		detail = map[string]any{"field": field, "issue": issue}
	}
	a := errorAnswer(http.StatusBadRequest, code, message, detail)
	a.unsigned, a.unsignedNote = true, clientAnswerNote
	return a
}

// clientForm runs a form route.
func (s *Server) clientForm(r *http.Request, body []byte, x *Exchange, now time.Time, fc *formCheck) *answer {
	x.Endpoint = r.Method + " " + r.URL.Path
	c := formRun{s: s, x: x, form: &ClientForm{Kind: fc.kind}, now: now}
	x.Form = c.form
	if r.Method != http.MethodPost {
		return c.refuse("endpoint", "METHOD_NOT_ALLOWED", "请使用POST提交", "", "the simulated client takes POST")
	}
	x.step("endpoint", true, x.Endpoint+": the simulated WeChat client, no Authorization needed")
	if s.cfg.APIv2Key == "" {
		return c.refuse("apiv2 key", FormNoAPIv2Key, "沙箱没有APIv2密钥", "", "the sandbox was started without an APIv2 key (keygen writes "+APIv2KeyFile+")")
	}
	root := gjson.ParseBytes(body)
	if !json.Valid(body) || !root.IsObject() {
		return c.refuse("object", PaymentParamError, "参数应为JSON对象", "", "body is not a JSON object")
	}
	params, sign, a := fc.check(c, root)
	if a != nil {
		return a
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	var msg strings.Builder
	for _, k := range names {
		if params[k] == "" {
			continue
		}
		if msg.Len() > 0 {
			msg.WriteByte('&')
		}
		msg.WriteString(k + "=" + params[k])
	}
	c.form.Params = names
	mac := hmac.New(sha256.New, []byte(s.cfg.APIv2Key))
	mac.Write([]byte(msg.String() + "&key=" + s.cfg.APIv2Key))
	want := strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
	if !hmac.Equal([]byte(sign), []byte(want)) {
		return c.refuse("sign", PaymentSignInvalid, "签名验证失败", "sign",
			"HMAC-SHA256 with the APIv2 key over "+strings.Join(names, ", ")+" does not match")
	}
	x.step("sign", true, "HMAC-SHA256 with the APIv2 key over "+strings.Join(names, ", ")+" matches")
	c.form.Verdict = PaymentOK
	a = jsonAnswer(http.StatusOK, map[string]string{"result": PaymentOK})
	a.unsigned, a.unsignedNote = true, clientAnswerNote
	return a
}

// stringMembers reads obj's members: each once, a non-empty string, one of
// allowed; required ones present. It returns them by name.
func (c formRun) stringMembers(obj gjson.Result, where string, allowed, required []string) (map[string]string, *answer) {
	got := map[string]string{}
	var bad *answer
	obj.ForEach(func(k, v gjson.Result) bool {
		name := where + k.Str
		switch {
		case !slices.Contains(allowed, k.Str):
			bad = c.refuse("members", PaymentParamError, "参数"+name+"不存在", name, "unknown member (members: "+strings.Join(allowed, ", ")+")")
		case got[k.Str] != "":
			bad = c.refuse("members", PaymentParamError, "参数"+name+"重复", name, "given more than once")
		case v.Type != gjson.String || v.Str == "":
			bad = c.refuse("members", PaymentParamError, "参数"+name+"应为非空字符串", name, "must be a non-empty string")
		}
		got[k.Str] = v.Str
		return bad == nil
	})
	if bad != nil {
		return nil, bad
	}
	for _, k := range required {
		if _, ok := got[k]; !ok {
			return nil, c.refuse("members", PaymentParamError, "缺少参数"+where+k, where+k, "missing")
		}
	}
	return got, nil
}

// merchant checks that v, the form's merchant number, is the sandbox's.
func (c formRun) merchant(field, v string) *answer {
	if v != c.s.cfg.MchID {
		return c.refuse(field, FormMchIDMismatch, field+"与商户号不一致", field,
			fmt.Sprintf("%s, the sandbox merchant (whose APIv2 key signs) is %s", v, c.s.cfg.MchID))
	}
	c.x.step(field, true, v)
	return nil
}

func checkSendCoupon(c formRun, root gjson.Result) (map[string]string, string, *answer) {
	top := map[string]gjson.Result{}
	var bad *answer
	root.ForEach(func(k, v gjson.Result) bool {
		switch _, dup := top[k.Str]; {
		case dup:
			bad = c.refuse("attributes", PaymentParamError, "参数"+k.Str+"重复", k.Str, "given more than once")
		case !slices.Contains([]string{"send_coupon_params", "send_coupon_merchant", "sign", "suggest_immediate_use"}, k.Str):
			bad = c.refuse("attributes", PaymentParamError, "send-coupon组件没有属性"+k.Str, k.Str, "not an attribute of <send-coupon>")
		}
		top[k.Str] = v
		return bad == nil
	})
	if bad != nil {
		return nil, "", bad
	}
	list := top["send_coupon_params"]
	if !list.IsArray() || len(list.Array()) == 0 || len(list.Array()) > 10 {
		return nil, "", c.refuse("send_coupon_params", PaymentParamError, "send_coupon_params应为1到10张券的数组", "send_coupon_params", "must be an array of 1 to 10 coupons")
	}
	for _, k := range []string{"send_coupon_merchant", "sign"} {
		if top[k].Type != gjson.String || top[k].Str == "" {
			return nil, "", c.refuse("attributes", PaymentParamError, k+"应为非空字符串", k, "must be a non-empty string")
		}
	}
	c.x.step("attributes", true, "send_coupon_params, send_coupon_merchant, sign")
	if a := c.merchant("send_coupon_merchant", top["send_coupon_merchant"].Str); a != nil {
		return nil, "", a
	}
	params := map[string]string{"send_coupon_merchant": top["send_coupon_merchant"].Str}
	for i, coupon := range list.Array() {
		where := "send_coupon_params[" + strconv.Itoa(i) + "]."
		if !coupon.IsObject() {
			return nil, "", c.refuse("coupons", PaymentParamError, where+"应为对象", where, "must be an object")
		}
		got, a := c.stringMembers(coupon, where,
			[]string{"stock_id", "out_request_no", "coupon_code", "customize_send_time", "create_coupon_merchant"},
			[]string{"stock_id", "out_request_no"})
		if a != nil {
			return nil, "", a
		}
		for k, v := range got {
			params[k+strconv.Itoa(i)] = v
		}
	}
	c.x.step("coupons", true, fmt.Sprintf("%d coupon(s), members named as documented", len(list.Array())))
	return params, top["sign"].Str, nil
}

func checkH5Coupon(c formRun, root gjson.Result) (map[string]string, string, *answer) {
	got, a := c.stringMembers(root, "", []string{"url", "sign"}, []string{"url"})
	if a != nil {
		return nil, "", a
	}
	u, err := url.Parse(got["url"])
	if err != nil || u.Scheme != "https" || u.Host != "action.weixin.qq.com" || u.Path != "/busifavor/getcouponinfo" {
		return nil, "", c.refuse("url", PaymentParamError, "领券链接应为https://action.weixin.qq.com/busifavor/getcouponinfo", "url", "not the H5 coupon page")
	}
	if !slices.Contains(strings.Split(u.Fragment, "&"), "wechat_redirect") {
		return nil, "", c.refuse("url", FormRedirectMissing, "领券链接缺少#wechat_redirect", "url", "no #...wechat_redirect after the query: WeChat answers 268435461")
	}
	c.x.step("url", true, "https://action.weixin.qq.com/busifavor/getcouponinfo, #"+u.Fragment)
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, "", c.refuse("query", PaymentParamError, "领券链接参数无法解析", "url", "the query does not parse")
	}
	params := map[string]string{}
	for k, vs := range q {
		switch {
		case !slices.Contains([]string{"stock_id", "out_request_no", "sign", "send_coupon_merchant", "open_id", "coupon_code", "customize_send_time"}, k):
			return nil, "", c.refuse("query", PaymentParamError, "领券链接参数"+k+"不存在", k, "unknown parameter")
		case len(vs) != 1 || vs[0] == "":
			return nil, "", c.refuse("query", PaymentParamError, "领券链接参数"+k+"应出现一次且非空", k, "must be given once, non-empty")
		}
		params[k] = vs[0]
	}
	for _, k := range []string{"stock_id", "out_request_no", "sign", "send_coupon_merchant", "open_id"} {
		if params[k] == "" {
			return nil, "", c.refuse("query", PaymentParamError, "领券链接缺少参数"+k, k, "missing")
		}
	}
	c.x.step("query", true, "parameters named as documented, each once")
	if got["sign"] != "" && got["sign"] != params["sign"] {
		return nil, "", c.refuse("query", PaymentParamError, "sign与链接中的sign不一致", "sign", "differs from the URL's sign")
	}
	if a := c.merchant("send_coupon_merchant", params["send_coupon_merchant"]); a != nil {
		return nil, "", a
	}
	sign := params["sign"]
	delete(params, "sign")
	return params, sign, nil
}

func checkPayscoreDetail(c formRun, root gjson.Result) (map[string]string, string, *answer) {
	top := map[string]string{}
	var bad *answer
	root.ForEach(func(k, v gjson.Result) bool {
		_, dup := top[k.Str]
		switch {
		case dup:
			bad = c.refuse("object", PaymentParamError, "参数"+k.Str+"重复", k.Str, "given more than once")
		case k.Str == "extraData":
			if !v.IsObject() {
				bad = c.refuse("object", PaymentParamError, "extraData应为对象", k.Str, "must be an object")
			}
		case !slices.Contains([]string{"businessType", "queryString", "query", "envVersion", "extInfo"}, k.Str):
			bad = c.refuse("object", PaymentParamError, "参数"+k.Str+"不存在", k.Str, "unknown member")
		case v.Type != gjson.String:
			bad = c.refuse("object", PaymentParamError, "参数"+k.Str+"应为字符串", k.Str, "must be a string")
		}
		top[k.Str] = v.Str
		return bad == nil
	})
	if bad != nil {
		return nil, "", bad
	}
	var a *answer
	if top["businessType"] != "wxpayScoreDetail" {
		return nil, "", c.refuse("businessType", PaymentParamError, "businessType应为wxpayScoreDetail", "businessType", "must be wxpayScoreDetail")
	}
	var params map[string]string
	fields := []string{"mch_id", "service_id", "out_order_no", "timestamp", "nonce_str", "sign_type", "sign"}
	switch extra := root.Get("extraData"); {
	case extra.IsObject() && top["queryString"] == "" && top["query"] == "":
		if params, a = c.stringMembers(extra, "extraData.", fields, fields); a != nil {
			return nil, "", a
		}
		c.x.step("form", true, "mini program: extraData")
	case !extra.Exists() && (top["queryString"] == "") != (top["query"] == ""):
		raw, name := top["queryString"], "queryString"
		if raw == "" {
			raw, name = top["query"], "query"
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			return nil, "", c.refuse("form", PaymentParamError, name+"无法解析", name, "does not parse as a query string")
		}
		params = map[string]string{}
		for k, vs := range q {
			if !slices.Contains(fields, k) || len(vs) != 1 || vs[0] == "" {
				return nil, "", c.refuse("form", PaymentParamError, name+"参数"+k+"有误", k, "unknown, repeated or empty in "+name)
			}
			params[k] = vs[0]
		}
		for _, k := range fields {
			if params[k] == "" {
				return nil, "", c.refuse("form", PaymentParamError, name+"缺少参数"+k, k, "missing")
			}
		}
		c.x.step("form", true, name+" (JSAPI queryString, APP query)")
	default:
		return nil, "", c.refuse("form", PaymentParamError, "应提供extraData、queryString或query之一", "", "exactly one of extraData, queryString, query")
	}
	if params["sign_type"] != "HMAC-SHA256" {
		return nil, "", c.refuse("sign_type", PaymentParamError, "sign_type应为HMAC-SHA256", "sign_type", "must be HMAC-SHA256")
	}
	if a := c.merchant("mch_id", params["mch_id"]); a != nil {
		return nil, "", a
	}
	if n := params["nonce_str"]; len(n) > 32 || strings.Trim(n, nonceSymbols) != "" {
		return nil, "", c.refuse("nonce_str", PaymentParamError, "nonce_str应为不超过32位的字母或数字", "nonce_str", "must be 1 to 32 of [0-9A-Za-z]")
	}
	ts, err := strconv.ParseInt(params["timestamp"], 10, 64)
	if err != nil || !isDigits(params["timestamp"]) {
		return nil, "", c.refuse("timestamp", PaymentParamError, "timestamp应为以秒为单位的时间戳", "timestamp", "must be unix time in seconds")
	}
	if d := c.now.Sub(time.Unix(ts, 0)); d >= PaymentTimestampWindow || d <= -PaymentTimestampWindow {
		return nil, "", c.refuse("timestamp", PaymentTimestampInvalid, "timestamp与当前时间相差过大", "timestamp",
			fmt.Sprintf("%s away from the sandbox clock (limit %s)", d.Round(time.Second), PaymentTimestampWindow))
	}
	c.x.step("timestamp", true, params["timestamp"])
	sign := params["sign"]
	delete(params, "sign")
	return params, sign, nil
}

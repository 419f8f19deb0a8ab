package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// The prepay endpoints (POST) whose prepay_id opens the payment sheet in
// the WeChat client: direct (普通商户), partner (服务商) and combine (合单)
// ordering, for JSAPI and mini programs, and for APPs.
const (
	// JSAPIPrepayPath is JSAPI下单; the invocation's appId is the request's appid.
	JSAPIPrepayPath = "/v3/pay/transactions/jsapi"
	// PartnerJSAPIPrepayPath is JSAPI下单 for a service provider; the
	// invocation's appId is sub_appid when the payer is payer.sub_openid,
	// else sp_appid.
	PartnerJSAPIPrepayPath = "/v3/pay/partner/transactions/jsapi"
	// CombineJSAPIPrepayPath is 合单下单-JSAPI支付; appId is combine_appid.
	CombineJSAPIPrepayPath = "/v3/combine-transactions/jsapi"
	// AppPrepayPath is APP下单; appid is appid, partnerid is mchid.
	AppPrepayPath = "/v3/pay/transactions/app"
	// PartnerAppPrepayPath is APP下单 for a service provider; appid is
	// sub_appid when given, else sp_appid; partnerid is sub_mchid.
	PartnerAppPrepayPath = "/v3/pay/partner/transactions/app"
	// CombineAppPrepayPath is 合单下单-APP支付; appid is combine_appid,
	// partnerid is combine_mchid.
	CombineAppPrepayPath = "/v3/combine-transactions/app"
)

// Trade types of a prepay_id: the invocation form that may open it.
const (
	// TradeTypeJSAPI is a prepay_id of a JSAPI endpoint, opened by the
	// {appId, timeStamp, nonceStr, package, signType, paySign} object of
	// wx.requestPayment (mini program) or getBrandWCPayRequest (JSAPI).
	TradeTypeJSAPI = "JSAPI"
	// TradeTypeApp is a prepay_id of an APP endpoint, opened by the
	// {appid, partnerid, prepayid, package, noncestr, timestamp, sign}
	// object of the OpenSDK's PayReq.
	TradeTypeApp = "APP"
)

// PrepayIDLifetime is how long a prepay_id stays valid, as at WeChat Pay.
const PrepayIDLifetime = 2 * time.Hour

// MaxPrepayIDs bounds the prepay_ids the sandbox remembers; past it the
// oldest is forgotten, and the client route then calls it unknown.
const MaxPrepayIDs = 10000

// valueKind is what a checked body field must hold.
type valueKind int

const (
	nonEmptyString valueKind = iota
	positiveInteger
	nonNegativeInteger
	jsonObject
	jsonArray
	nonEmptyArray
)

// want says what a kind of value must be, in the detail and the message.
func (k valueKind) want() (issue, message string) {
	switch k {
	case positiveInteger:
		return "an integer greater than 0", "此字段应为大于0的整数"
	case nonNegativeInteger:
		return "an integer not less than 0", "此字段应为不小于0的整数"
	case jsonObject:
		return "a JSON object", "此字段应为JSON对象"
	case jsonArray:
		return "a JSON array", "此字段应为JSON数组"
	case nonEmptyArray:
		return "a non-empty JSON array", "此字段应为非空JSON数组"
	}
	return "a non-empty string", "此字段应为非空字符串"
}

// holds reports whether v is a value of the kind.
func (k valueKind) holds(v gjson.Result) bool {
	switch k {
	case positiveInteger, nonNegativeInteger:
		n, ok := jsonInteger(v)
		return ok && (n > 0 || k == nonNegativeInteger && n == 0)
	case jsonObject:
		return v.IsObject()
	case jsonArray:
		return v.IsArray()
	case nonEmptyArray:
		return v.IsArray() && len(v.Array()) > 0
	}
	return v.Type == gjson.String && v.Str != ""
}

// jsonInteger reads a JSON number written as an integer (no fraction, no
// exponent) that fits an int64, as WeChat Pay's int64 fields take.
func jsonInteger(v gjson.Result) (int64, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	return n, err == nil
}

// fieldRule is one check of a request body field.
type fieldRule struct {
	// path is a gjson path; "#" stands for each element of an array. The
	// rule applies where the parent is present: a parent's own rule, which
	// comes first, says whether it must be.
	path string
	kind valueKind
	// optional fields are checked only when present (null counts as absent).
	optional bool
}

// present reports whether a body value is given (not absent, not null).
func present(v gjson.Result) bool { return v.Exists() && v.Type != gjson.Null }

// checkFields applies the rules in order and answers the first failure:
// 400 PARAM_ERROR naming the field.
func checkFields(root gjson.Result, rules []fieldRule, x *Exchange) *answer {
	for _, r := range rules {
		if a := applyRule(root, strings.Split(r.path, "."), "", r, x); a != nil {
			return a
		}
	}
	return nil
}

func applyRule(v gjson.Result, segs []string, prefix string, r fieldRule, x *Exchange) *answer {
	seg, rest := segs[0], segs[1:]
	if seg == "#" {
		if !v.IsArray() {
			return nil
		}
		for i, el := range v.Array() {
			path := joinPath(prefix, strconv.Itoa(i))
			var a *answer
			if len(rest) == 0 {
				a = checkValue(el, path, r, x)
			} else {
				a = applyRule(el, rest, path, r, x)
			}
			if a != nil {
				return a
			}
		}
		return nil
	}
	if !v.IsObject() {
		return nil
	}
	child, path := v.Get(gjson.Escape(seg)), joinPath(prefix, seg)
	if len(rest) == 0 {
		return checkValue(child, path, r, x)
	}
	if !present(child) {
		return nil
	}
	return applyRule(child, rest, path, r, x)
}

// checkValue checks one concrete field: absent, null or "" is a missing
// required field; anything else must be of the rule's kind.
func checkValue(v gjson.Result, path string, r fieldRule, x *Exchange) *answer {
	issue, message := r.kind.want()
	switch {
	case !present(v) && r.optional:
		return nil
	case !present(v), v.Type == gjson.String && v.Str == "" && r.kind == nonEmptyString && !r.optional:
		return requiredFieldError(x, path, "required, "+issue)
	case !r.kind.holds(v):
		return fieldTypeError(x, path, "must be "+issue, message)
	}
	return nil
}

// fieldTypeError is the 400 PARAM_ERROR of a field present with a value
// of the wrong type or range.
func fieldTypeError(x *Exchange, path, issue, message string) *answer {
	x.step("required fields", false, path+": "+issue)
	source := "/body/" + strings.ReplaceAll(path, ".", "/")
	return paramError(fmt.Sprintf("输入源“%s”映射到值字段“%s”字段规则校验失败，%s", source, path, message),
		fieldDetail("body", path, issue))
}

// orderRules are the fields the SDK's request structs require inside the
// optional parts of a direct or partner order (amount.currency, scene_info,
// detail.goods_detail).
var orderRules = []fieldRule{
	{"amount.currency", nonEmptyString, true},
	{"scene_info", jsonObject, true},
	{"scene_info.payer_client_ip", nonEmptyString, false},
	{"scene_info.store_info", jsonObject, true},
	{"scene_info.store_info.id", nonEmptyString, false},
	{"detail", jsonObject, true},
	{"detail.goods_detail", jsonArray, true},
	{"detail.goods_detail.#", jsonObject, false},
	{"detail.goods_detail.#.merchant_goods_id", nonEmptyString, false},
	{"detail.goods_detail.#.quantity", positiveInteger, false},
	{"detail.goods_detail.#.unit_price", nonNegativeInteger, false},
}

// rules concatenates rule lists.
func rules(lists ...[]fieldRule) []fieldRule {
	var out []fieldRule
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var (
	directRules = []fieldRule{
		{"appid", nonEmptyString, false},
		{"mchid", nonEmptyString, false},
		{"description", nonEmptyString, false},
		{"out_trade_no", nonEmptyString, false},
		{"notify_url", nonEmptyString, false},
		{"amount", jsonObject, false},
		{"amount.total", positiveInteger, false},
	}
	partnerRules = []fieldRule{
		{"sp_appid", nonEmptyString, false},
		{"sp_mchid", nonEmptyString, false},
		{"sub_appid", nonEmptyString, true},
		{"sub_mchid", nonEmptyString, false},
		{"description", nonEmptyString, false},
		{"out_trade_no", nonEmptyString, false},
		{"notify_url", nonEmptyString, false},
		{"amount", jsonObject, false},
		{"amount.total", positiveInteger, false},
	}
	combineRules = []fieldRule{
		{"combine_appid", nonEmptyString, false},
		{"combine_mchid", nonEmptyString, false},
		{"combine_out_trade_no", nonEmptyString, false},
		{"scene_info", jsonObject, true},
		{"scene_info.payer_client_ip", nonEmptyString, false},
		{"sub_orders", nonEmptyArray, false},
		{"sub_orders.#", jsonObject, false},
		{"sub_orders.#.mchid", nonEmptyString, false},
		{"sub_orders.#.attach", nonEmptyString, false},
		{"sub_orders.#.amount", jsonObject, false},
		{"sub_orders.#.amount.total_amount", positiveInteger, false},
		{"sub_orders.#.amount.currency", nonEmptyString, true},
		{"sub_orders.#.out_trade_no", nonEmptyString, false},
		{"sub_orders.#.description", nonEmptyString, false},
		{"notify_url", nonEmptyString, false},
	}
)

// prepayEndpoint is one prepay endpoint: its checks and whom the
// invocation of its prepay_id must name.
type prepayEndpoint struct {
	tradeType string
	rules     []fieldRule
	// extra checks what rules cannot say (the partner JSAPI payer); may be nil.
	extra func(root gjson.Result, x *Exchange) *answer
	// merchant is the body field that must be the caller's mchid.
	merchant string
	// appID and partnerID are the body fields the invocation's appid and
	// (APP) partnerid come from.
	appID, partnerID func(root gjson.Result) string
}

func field(path string) func(gjson.Result) string {
	return func(root gjson.Result) string { return root.Get(path).Str }
}

var prepayEndpoints = map[string]prepayEndpoint{
	JSAPIPrepayPath: {
		tradeType: TradeTypeJSAPI,
		rules: rules(directRules, []fieldRule{
			{"payer", jsonObject, false},
			{"payer.openid", nonEmptyString, false},
		}, orderRules),
		merchant: "mchid",
		appID:    field("appid"),
	},
	PartnerJSAPIPrepayPath: {
		tradeType: TradeTypeJSAPI,
		rules: rules(partnerRules, []fieldRule{
			{"payer", jsonObject, false},
			{"payer.sp_openid", nonEmptyString, true},
			{"payer.sub_openid", nonEmptyString, true},
		}, orderRules),
		extra:    partnerPayer,
		merchant: "sp_mchid",
		appID: func(root gjson.Result) string {
			if present(root.Get("payer.sub_openid")) {
				return root.Get("sub_appid").Str
			}
			return root.Get("sp_appid").Str
		},
	},
	CombineJSAPIPrepayPath: {
		tradeType: TradeTypeJSAPI,
		rules: rules(combineRules, []fieldRule{
			{"combine_payer_info", jsonObject, false},
			{"combine_payer_info.openid", nonEmptyString, false},
		}),
		merchant: "combine_mchid",
		appID:    field("combine_appid"),
	},
	AppPrepayPath: {
		tradeType: TradeTypeApp,
		rules:     rules(directRules, orderRules),
		merchant:  "mchid",
		appID:     field("appid"),
		partnerID: field("mchid"),
	},
	PartnerAppPrepayPath: {
		tradeType: TradeTypeApp,
		rules:     rules(partnerRules, orderRules),
		merchant:  "sp_mchid",
		appID: func(root gjson.Result) string {
			if present(root.Get("sub_appid")) {
				return root.Get("sub_appid").Str
			}
			return root.Get("sp_appid").Str
		},
		partnerID: field("sub_mchid"),
	},
	CombineAppPrepayPath: {
		tradeType: TradeTypeApp,
		rules:     combineRules,
		merchant:  "combine_mchid",
		appID:     field("combine_appid"),
		partnerID: field("combine_mchid"),
	},
}

// partnerPayer: a partner JSAPI order names its payer by payer.sp_openid
// or payer.sub_openid, and a sub_openid belongs to sub_appid.
func partnerPayer(root gjson.Result, x *Exchange) *answer {
	sub := present(root.Get("payer.sub_openid"))
	switch {
	case !sub && !present(root.Get("payer.sp_openid")):
		return requiredFieldError(x, "payer.sp_openid", "required: payer.sp_openid or payer.sub_openid")
	case sub && !present(root.Get("sub_appid")):
		return requiredFieldError(x, "sub_appid", "required with payer.sub_openid")
	}
	return nil
}

// validatePrepay checks a prepay request's fields, then that the order's
// merchant is the caller (the mchid of the Authorization header, which
// authenticate has already matched against Config.MchID).
func (s *Server) validatePrepay(e prepayEndpoint, req *request) *answer {
	root := gjson.ParseBytes(req.body)
	if !root.IsObject() {
		req.x.step("required fields", false, "body is not a JSON object")
		return paramError("请求体应为JSON对象", fieldDetail("body", "", "body is not a JSON object"))
	}
	if a := checkFields(root, e.rules, req.x); a != nil {
		return a
	}
	if e.extra != nil {
		if a := e.extra(root, req.x); a != nil {
			return a
		}
	}
	req.x.step("required fields", true, fmt.Sprintf("%d field rules of %s", len(e.rules), req.ep.Path))
	if got := root.Get(e.merchant).Str; got != s.cfg.MchID {
		req.x.step("merchant", false, fmt.Sprintf("%s %s is not the caller %s (Authorization mchid)", e.merchant, got, s.cfg.MchID))
		return paramError(fmt.Sprintf("请求参数%s与Authorization中的商户号不一致", e.merchant),
			fieldDetail("body", e.merchant, "does not match the mchid of the Authorization header"))
	}
	req.x.step("merchant", true, e.merchant+" is the caller "+s.cfg.MchID)
	return nil
}

// issuePrepay answers {"prepay_id": "wx..."} and remembers the order the
// invocation must match.
func (s *Server) issuePrepay(e prepayEndpoint, req *request) *answer {
	root := gjson.ParseBytes(req.body)
	now := req.x.Time
	o := prepayOrder{
		tradeType: e.tradeType,
		appID:     e.appID(root),
		endpoint:  req.ep.Path,
		issued:    now,
		expires:   now.Add(PrepayIDLifetime),
	}
	if e.partnerID != nil {
		o.partnerID = e.partnerID(root)
	}
	id := s.prepays.issue(o, now)
	detail := fmt.Sprintf("%s for %s, appid %s", id, o.tradeType, o.appID)
	if o.partnerID != "" {
		detail += ", partnerid " + o.partnerID
	}
	req.x.step("prepay_id", true, detail+", valid until "+o.expires.In(chinaZone).Format(time.RFC3339))
	return jsonAnswer(http.StatusOK, map[string]string{"prepay_id": id})
}

// prepayOrder is what the sandbox remembers of an issued prepay_id.
type prepayOrder struct {
	tradeType string // TradeTypeJSAPI or TradeTypeApp
	appID     string // the appid the invocation must carry
	partnerID string // the partnerid an APP invocation must carry
	endpoint  string // the prepay path
	issued    time.Time
	expires   time.Time
}

// prepayStore remembers issued prepay_ids, at most limit of them (default
// MaxPrepayIDs), forgetting the oldest first.
type prepayStore struct {
	mu     sync.Mutex
	limit  int
	orders map[string]prepayOrder
	ring   []string // ids in issue order, oldest at next once full
	next   int
}

// issue makes a fresh prepay_id for o and remembers it. The form is
// WeChat Pay's: "wx", the issue time in China (yyyyMMddHHmmss), 20
// lower-case hex digits; 36 characters.
func (p *prepayStore) issue(o prepayOrder, now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.orders == nil {
		p.orders = map[string]prepayOrder{}
	}
	stamp := "wx" + now.In(chinaZone).Format("20060102150405")
	id := stamp + strings.ToLower(randomHex(10))
	for _, taken := p.orders[id]; taken; _, taken = p.orders[id] {
		id = stamp + strings.ToLower(randomHex(10))
	}
	limit := p.limit
	if limit <= 0 {
		limit = MaxPrepayIDs
	}
	if len(p.ring) < limit {
		p.ring = append(p.ring, id)
	} else {
		delete(p.orders, p.ring[p.next])
		p.ring[p.next] = id
		p.next = (p.next + 1) % limit
	}
	p.orders[id] = o
	return id
}

// lookup returns the order of a remembered prepay_id.
func (p *prepayStore) lookup(id string) (prepayOrder, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.orders[id]
	return o, ok
}

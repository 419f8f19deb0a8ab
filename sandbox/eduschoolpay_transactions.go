package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// eduTransactionRules are 扣款's documented required fields and types
// (POST /v3/eduschoolpay/transactions; the optional ones checked when
// present).
var eduTransactionRules = []fieldRule{
	{"appid", nonEmptyString, false},
	{"sub_mchid", nonEmptyString, true},
	{"sub_appid", nonEmptyString, true},
	{"description", nonEmptyString, false},
	{"attach", nonEmptyString, true},
	{"out_trade_no", nonEmptyString, false},
	{"goods_tag", nonEmptyString, true},
	{"contract_id", nonEmptyString, false},
	{"user_id", nonEmptyString, false},
	{"amount", jsonObject, false},
	{"amount.total", positiveInteger, false},
	{"amount.currency", nonEmptyString, true},
	{"scene_info", jsonObject, false},
	{"scene_info.start_time", nonEmptyString, true},
	{"scene_info.school_id", nonEmptyString, false},
	{"scene_info.scene_type", nonEmptyString, false},
	{"device_info", jsonObject, true},
	{"settle_info", jsonObject, true},
	{"payment_mode", nonEmptyString, true},
}

// eduOrder is a 扣款 order, as the order queries answer it. trade_type
// (optional) is left out: its documented values (JSAPI, NATIVE, APP,
// MICROPAY, MWEB, FACEPAY) name none for a 扣款.
type eduOrder struct {
	MchID          string       `json:"mchid"`
	AppID          string       `json:"appid"`
	SubMchID       string       `json:"sub_mchid,omitempty"`
	SubAppID       string       `json:"sub_appid,omitempty"`
	OutTradeNo     string       `json:"out_trade_no"`
	TransactionID  string       `json:"transaction_id"`
	TradeState     string       `json:"trade_state"`
	TradeStateDesc string       `json:"trade_state_desc"`
	BankType       string       `json:"bank_type"`
	Attach         string       `json:"attach,omitempty"`
	SuccessTime    string       `json:"success_time"`
	Payer          eduPayer     `json:"payer"`
	Amount         eduAmount    `json:"amount"`
	ContractID     string       `json:"contract_id"`
	UserID         string       `json:"user_id"`
	refunded       int64        // the sum of its refunds
	request        gjson.Result // the 扣款 body, to tell a retry from a clash
}

type eduPayer struct {
	OpenID string `json:"openid"`
}

type eduAmount struct {
	Total      int64  `json:"total"`
	PayerTotal int64  `json:"payer_total"`
	Currency   string `json:"currency"`
}

// Trade states the sandbox's orders take.
const (
	TradeStateSuccess = "SUCCESS"
	TradeStateRefund  = "REFUND"
)

// validateEduTransaction checks 扣款's fields before anything else.
func validateEduTransaction(req *request) *answer {
	root, a := checkBody(req, eduTransactionRules)
	if a != nil {
		return a
	}
	if d := root.Get("description").Str; utf8.RuneCountInString(d) > 127 {
		return fieldTypeError(req.x, "description", "at most 127 characters", "此字段最长127个字符")
	}
	if !isOrderNo(root.Get("out_trade_no").Str, "") {
		return fieldTypeError(req.x, "out_trade_no", "at most 64 characters of [0-9A-Za-z_-]", "此字段应为64个字符内的数字、大小写字母和_-")
	}
	if c := root.Get("amount.currency"); present(c) && c.Str != "CNY" {
		return fieldTypeError(req.x, "amount.currency", "must be CNY", "货币类型仅支持CNY")
	}
	if t := root.Get("scene_info.start_time"); present(t) {
		if _, err := time.Parse(time.RFC3339, t.Str); err != nil {
			return fieldTypeError(req.x, "scene_info.start_time", "must be an RFC 3339 time", "此字段应为rfc3339格式的时间")
		}
	}
	if present(root.Get("sub_mchid")) != present(root.Get("sub_appid")) {
		return fieldTypeError(req.x, "sub_appid", "sub_mchid and sub_appid go together (service provider mode)", "服务商模式下sub_mchid与sub_appid必填")
	}
	req.x.step("required fields", true, "appid, description, out_trade_no, contract_id, user_id, amount.total, scene_info (school_id, scene_type)")
	return nil
}

// checkBody checks that the body is a JSON object and applies the rules.
func checkBody(req *request, rules []fieldRule) (gjson.Result, *answer) {
	root := gjson.ParseBytes(req.body)
	if !root.IsObject() {
		req.x.step("required fields", false, "body is not a JSON object")
		return root, paramError("请求体应为JSON对象", fieldDetail("body", "", "body is not a JSON object"))
	}
	return root, checkFields(root, rules, req.x)
}

// isOrderNo reports whether s is a merchant order or refund number: 1 to
// 64 characters of [0-9A-Za-z_-] or of extra.
func isOrderNo(s, extra string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// invalidRequest is WeChat Pay's 400 INVALID_REQUEST: the fields are well
// formed but break a business rule.
func invalidRequest(x *Exchange, step, issue, message string) *answer {
	x.step(step, false, issue)
	return errorAnswer(http.StatusBadRequest, "INVALID_REQUEST", message, nil)
}

// eduTransaction plays 扣款: the contract must be signed, for this appid
// and user_id; the order is paid at once (the synchronous mode) and
// answered as the order queries answer it. The same out_trade_no again with
// the same body answers the same order; with another body, 400
// OUT_TRADE_NO_USED.
func (s *Server) eduTransaction(req *request) *answer {
	root := gjson.ParseBytes(req.body)
	outTradeNo, contractID := root.Get("out_trade_no").Str, root.Get("contract_id").Str
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	s.edu.init()
	if o, dup := s.edu.orders[outTradeNo]; dup {
		if sameRequest(o.request, root) {
			req.x.step("order", true, "out_trade_no "+outTradeNo+" already paid with the same request: the same order")
			return jsonAnswer(http.StatusOK, o)
		}
		req.x.step("order", false, "out_trade_no "+outTradeNo+" already used by another request")
		return errorAnswer(http.StatusBadRequest, "OUT_TRADE_NO_USED", "商户订单号重复", fieldDetail("body", "out_trade_no", "already used"))
	}
	c, ok := s.edu.contracts[contractID]
	switch {
	case !ok:
		return invalidRequest(req.x, "contract", "no contract "+contractID+": the user has not signed", "签约协议不存在，请检查contract_id，用户签约后方可扣款")
	case c.Status != ContractSigned:
		return invalidRequest(req.x, "contract", "contract "+contractID+" is "+c.Status, "签约协议已解约，无法扣款")
	case root.Get("appid").Str != c.AppID:
		return invalidRequest(req.x, "contract", "appid is not the contract's ("+c.AppID+")", "appid与签约协议的appid不一致")
	case root.Get("user_id").Str != c.userID:
		// WeChat Pay's FAQ wording for a user_id other than the contract's.
		return invalidRequest(req.x, "contract", "user_id is not the contract's", "学生账户与合约不匹配")
	}
	req.x.step("contract", true, contractID+" signed, same appid and user_id")
	if len(s.edu.orders) >= MaxEduRecords {
		return full(req.x, "orders")
	}
	now := s.now().In(chinaZone)
	total, _ := jsonInteger(root.Get("amount.total"))
	o := &eduOrder{
		MchID: s.cfg.MchID, AppID: c.AppID, SubMchID: root.Get("sub_mchid").Str, SubAppID: root.Get("sub_appid").Str,
		OutTradeNo: outTradeNo, TransactionID: s.edu.newTransactionID(now),
		TradeState: TradeStateSuccess, TradeStateDesc: "支付成功", BankType: "OTHERS",
		Attach: root.Get("attach").Str, SuccessTime: now.Format(time.RFC3339),
		Payer:      eduPayer{OpenID: c.OpenID},
		Amount:     eduAmount{Total: total, PayerTotal: total, Currency: "CNY"},
		ContractID: contractID, UserID: c.userID, request: root,
	}
	s.edu.orders[outTradeNo] = o
	s.edu.byTxID[o.TransactionID] = outTradeNo
	req.x.step("answer", true, fmt.Sprintf("order %s paid, %d fen, transaction_id %s", outTradeNo, total, o.TransactionID))
	return jsonAnswer(http.StatusOK, o)
}

// sameRequest reports whether two JSON bodies hold the same values.
func sameRequest(a, b gjson.Result) bool {
	return a.Get("@ugly").Raw == b.Get("@ugly").Raw
}

// newTransactionID makes a fresh 28-digit transaction_id: 4200, the date
// in China, 16 random digits. The caller holds e.mu.
func (e *eduState) newTransactionID(now time.Time) string {
	for {
		id := "4200" + now.Format("20060102") + randomDigits(16)
		if _, taken := e.byTxID[id]; !taken {
			return id
		}
	}
}

// queryEduOrder answers 商户订单号查单 and 微信支付订单号查单: the order, or
// 404 ORDER_NOT_EXIST.
func (s *Server) queryEduOrder(req *request) *answer {
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	key, by := req.params["out_trade_no"], "out_trade_no"
	if id, ok := req.params["transaction_id"]; ok {
		key, by = s.edu.byTxID[id], "transaction_id"
	}
	o, ok := s.edu.orders[key]
	if !ok {
		req.x.step("order", false, "no order with this "+by)
		return errorAnswer(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在", fieldDetail("path", by, "no such order"))
	}
	req.x.step("order", true, o.OutTradeNo+" "+o.TradeState)
	return jsonAnswer(http.StatusOK, o)
}

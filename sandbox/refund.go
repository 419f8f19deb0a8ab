package sandbox

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tidwall/gjson"
)

// Refund endpoints (基础支付 退款, which 校园轻松付 orders are refunded with).
const (
	// RefundPath is 退款申请 (POST).
	RefundPath = "/v3/refund/domestic/refunds"
	// RefundQueryPath is 查询单笔退款 (GET), a path template.
	RefundQueryPath = "/v3/refund/domestic/refunds/{out_refund_no}"
)

// refundRules are the fields the official SDK's refunddomestic.CreateRequest
// requires, with their types; transaction_id or out_trade_no is checked apart.
var refundRules = []fieldRule{
	{"sub_mchid", nonEmptyString, true},
	{"transaction_id", nonEmptyString, true},
	{"out_trade_no", nonEmptyString, true},
	{"out_refund_no", nonEmptyString, false},
	{"reason", nonEmptyString, true},
	{"notify_url", nonEmptyString, true},
	{"amount", jsonObject, false},
	{"amount.refund", positiveInteger, false},
	{"amount.total", positiveInteger, false},
	{"amount.currency", nonEmptyString, false},
}

// refundRecord is a refund, as 退款申请 and 查询单笔退款 answer it.
type refundRecord struct {
	RefundID            string       `json:"refund_id"`
	OutRefundNo         string       `json:"out_refund_no"`
	TransactionID       string       `json:"transaction_id"`
	OutTradeNo          string       `json:"out_trade_no"`
	Channel             string       `json:"channel"`
	UserReceivedAccount string       `json:"user_received_account"`
	SuccessTime         string       `json:"success_time"`
	CreateTime          string       `json:"create_time"`
	Status              string       `json:"status"`
	Amount              refundAmount `json:"amount"`
	request             gjson.Result
}

type refundAmount struct {
	Total            int64  `json:"total"`
	Refund           int64  `json:"refund"`
	PayerTotal       int64  `json:"payer_total"`
	PayerRefund      int64  `json:"payer_refund"`
	SettlementTotal  int64  `json:"settlement_total"`
	SettlementRefund int64  `json:"settlement_refund"`
	DiscountRefund   int64  `json:"discount_refund"`
	Currency         string `json:"currency"`
}

// validateRefund checks 退款申请's fields.
func validateRefund(req *request) *answer {
	root, a := checkBody(req, refundRules)
	if a != nil {
		return a
	}
	if !present(root.Get("transaction_id")) && !present(root.Get("out_trade_no")) {
		return requiredFieldError(req.x, "out_trade_no", "transaction_id or out_trade_no is required")
	}
	if !isOrderNo(root.Get("out_refund_no").Str, "|*@") {
		return fieldTypeError(req.x, "out_refund_no", "at most 64 characters of [0-9A-Za-z_-|*@]", "此字段应为64个字符内的数字、大小写字母和_-|*@")
	}
	if root.Get("amount.currency").Str != "CNY" {
		return fieldTypeError(req.x, "amount.currency", "must be CNY", "货币类型仅支持CNY")
	}
	req.x.step("required fields", true, "out_refund_no, transaction_id or out_trade_no, amount.refund, amount.total, amount.currency")
	return nil
}

// refund plays 退款申请 for an order this merchant was paid (a 扣款
// order): amount.total must be the order's, and the refunds of an order
// may not add up to more than it. The refund succeeds at once. The same
// out_refund_no again with the same body answers the same refund.
func (s *Server) refund(req *request) *answer {
	root := gjson.ParseBytes(req.body)
	outRefundNo := root.Get("out_refund_no").Str
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	s.edu.init()
	if r, dup := s.edu.refunds[outRefundNo]; dup {
		if sameRequest(r.request, root) {
			req.x.step("refund", true, "out_refund_no "+outRefundNo+" again with the same request: the same refund")
			return jsonAnswer(http.StatusOK, r)
		}
		return invalidRequest(req.x, "refund", "out_refund_no "+outRefundNo+" already used by another request", "商户退款单号已被使用，请更换out_refund_no")
	}
	key, by := root.Get("out_trade_no").Str, "out_trade_no"
	if id := root.Get("transaction_id").Str; id != "" {
		key, by = s.edu.byTxID[id], "transaction_id"
	}
	o, ok := s.edu.orders[key]
	if ok && root.Get("out_trade_no").Str != "" && root.Get("out_trade_no").Str != o.OutTradeNo {
		ok = false
	}
	total, _ := jsonInteger(root.Get("amount.total"))
	amount, _ := jsonInteger(root.Get("amount.refund"))
	switch {
	case !ok:
		req.x.step("order", false, "no paid order of this merchant with this "+by)
		return errorAnswer(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在", fieldDetail("body", by, "no such order"))
	case o.TradeState != TradeStateSuccess && o.TradeState != TradeStateRefund:
		return invalidRequest(req.x, "order", "order "+o.OutTradeNo+" is "+o.TradeState+", not paid", "订单未支付，无法退款")
	case total != o.Amount.Total:
		return invalidRequest(req.x, "amount", fmt.Sprintf("amount.total %d is not the order's %d", total, o.Amount.Total), "订单金额与原订单金额不一致")
	case amount > o.Amount.Total-o.refunded:
		return invalidRequest(req.x, "amount", fmt.Sprintf("amount.refund %d exceeds what is left to refund (%d of %d)", amount, o.Amount.Total-o.refunded, o.Amount.Total),
			"申请退款金额超过订单可退金额")
	}
	if len(s.edu.refunds) >= MaxEduRecords {
		return full(req.x, "refunds")
	}
	now := s.now().In(chinaZone).Format(time.RFC3339)
	o.refunded += amount
	o.TradeState, o.TradeStateDesc = TradeStateRefund, "转入退款"
	r := &refundRecord{
		RefundID: "5030" + randomDigits(25), OutRefundNo: outRefundNo,
		TransactionID: o.TransactionID, OutTradeNo: o.OutTradeNo,
		Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		SuccessTime: now, CreateTime: now, Status: "SUCCESS",
		Amount: refundAmount{Total: o.Amount.Total, Refund: amount, PayerTotal: o.Amount.Total, PayerRefund: amount,
			SettlementTotal: o.Amount.Total, SettlementRefund: amount, Currency: "CNY"},
		request: root,
	}
	s.edu.refunds[outRefundNo] = r
	req.x.step("refund", true, fmt.Sprintf("%d of %d fen refunded for %s (%d left)", amount, o.Amount.Total, o.OutTradeNo, o.Amount.Total-o.refunded))
	return jsonAnswer(http.StatusOK, r)
}

// queryRefund answers 查询单笔退款: the refund, or 404 RESOURCE_NOT_EXISTS.
func (s *Server) queryRefund(req *request) *answer {
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	r, ok := s.edu.refunds[req.params["out_refund_no"]]
	if !ok {
		req.x.step("refund", false, "no refund with this out_refund_no")
		return errorAnswer(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在", fieldDetail("path", "out_refund_no", "no such refund"))
	}
	req.x.step("refund", true, r.OutRefundNo+" "+r.Status)
	return jsonAnswer(http.StatusOK, r)
}

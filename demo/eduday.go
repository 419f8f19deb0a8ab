package demo

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/tidwall/gjson"
)

// The 校园轻松付 day's values: the presign of step 4 for another contract,
// and a canteen order of 8.88 yuan, of which 3.00 is refunded.
const (
	dayContractCode = "20261208DAY001"
	dayOpenID       = "oUpF8uMuAJOM2pxb1Q"
	dayOutTradeNo   = "20261208CANTEEN001"
	dayOutRefundNo  = "20261208REFUND001"
	dayTotal        = 888
	dayRefund       = 300
)

// dayTransactionBody is 扣款 (POST /v3/eduschoolpay/transactions) in
// plaintext, as the app sends it; contract_id is filled in.
const dayTransactionBody = `{
  "appid": "wx8888888888888888",
  "description": "中山大学-第二食堂-海鲜炒饭",
  "out_trade_no": "` + dayOutTradeNo + `",
  "contract_id": "%s",
  "user_id": "20200330tony",
  "amount": {"total": 888, "currency": "CNY"},
  "scene_info": {"start_time": "2026-12-08T12:05:00+08:00", "school_id": "18260256813396", "scene_type": "CANTEEN"}
}`

// dayRefundBody is 退款申请 (POST /v3/refund/domestic/refunds) of refund
// fen of the day's order.
const dayRefundBody = `{"out_trade_no": "` + dayOutTradeNo + `", "out_refund_no": "%s", "reason": "退餐",
  "amount": {"refund": %d, "total": 888, "currency": "CNY"}}`

// dayCall is one 校园轻松付 call of the day: what it sends and what its
// answer must hold.
type dayCall struct {
	what, method, path string
	body               string
	status             int
	want               map[string]string // gjson path → value; "*" any non-empty
	ret                string            // the answer's field the caller needs
}

// eduDay is step 12: a 校园轻松付 day through the proxy, against the
// simulator's state: presign, the user signs in the (simulated) mini
// program, contract query, 扣款, order query, a refund, a refund of more
// than is left (refused by WeChat Pay), and the order query again.
func (r *run) eduDay(ctx context.Context, proxyURL, simURL string) {
	r.p.heading(12, "A 校园轻松付 day: presign → the user signs → contract → 扣款 → order → refund")
	r.p.line("Every call below goes app → proxy → simulator in plain JSON, except the user's signing, which")
	r.p.line("the simulator's stand-in for the WeChat signing mini program takes (%s).", sandbox.ContractSignPath)

	presign := strings.Replace(presignBody, `"out_contract_code": "20190806125346"`, `"out_contract_code": "`+dayContractCode+`"`, 1)
	token, ok := r.dayCall(ctx, proxyURL, dayCall{what: "预签约 (presign)", method: http.MethodPost, path: PresignPath,
		body: presign, status: 200, want: map[string]string{"presign_token": "*"}, ret: "presign_token"})
	if !ok {
		return
	}
	contractID, ok := r.daySign(ctx, simURL, token)
	if !ok {
		return
	}
	if _, ok := r.dayCall(ctx, proxyURL, dayCall{what: "通过协议号查询签约 (contract query)", method: http.MethodGet,
		path: "/v3/eduschoolpay/contracts/" + contractID, status: 200,
		want: map[string]string{"contract_status": sandbox.ContractSigned, "out_contract_code": dayContractCode}}); !ok {
		return
	}
	txID, ok := r.dayCall(ctx, proxyURL, dayCall{what: "扣款 (charge the contract)", method: http.MethodPost, path: sandbox.EduTransactionsPath,
		body: fmt.Sprintf(dayTransactionBody, contractID), status: 200,
		want: map[string]string{"trade_state": sandbox.TradeStateSuccess, "amount.total": "888", "transaction_id": "*"}, ret: "transaction_id"})
	if !ok {
		return
	}
	orderPath := "/v3/eduschoolpay/transactions/out-trade-no/" + dayOutTradeNo
	if _, ok := r.dayCall(ctx, proxyURL, dayCall{what: "商户订单号查单 (order query)", method: http.MethodGet, path: orderPath,
		status: 200, want: map[string]string{"trade_state": sandbox.TradeStateSuccess, "transaction_id": txID}}); !ok {
		return
	}
	if _, ok := r.dayCall(ctx, proxyURL, dayCall{what: "退款申请 (refund 3.00 of 8.88)", method: http.MethodPost, path: sandbox.RefundPath,
		body: fmt.Sprintf(dayRefundBody, dayOutRefundNo, dayRefund), status: 200,
		want: map[string]string{"status": "SUCCESS", "amount.refund": "300", "transaction_id": txID}}); !ok {
		return
	}
	if _, ok := r.dayCall(ctx, proxyURL, dayCall{what: "退款申请 of 6.00 more (more than the 5.88 left)", method: http.MethodPost, path: sandbox.RefundPath,
		body: fmt.Sprintf(dayRefundBody, dayOutRefundNo+"X", 600), status: 400,
		want: map[string]string{"code": "INVALID_REQUEST"}}); !ok {
		return
	}
	if _, ok := r.dayCall(ctx, proxyURL, dayCall{what: "商户订单号查单 again", method: http.MethodGet, path: orderPath,
		status: 200, want: map[string]string{"trade_state": sandbox.TradeStateRefund}}); !ok {
		return
	}
	r.p.line("✓ the day is done: each answer was WeChat Pay's (the simulator's), signed, and verified by the proxy")
}

// dayCall sends one call through the proxy, prints it and checks its
// answer; it returns the answer's value at ret.
func (r *run) dayCall(ctx context.Context, proxyURL string, c dayCall) (string, bool) {
	r.p.line("")
	r.p.line("%s: %s %s", c.what, c.method, c.path)
	ct := ""
	if c.body != "" {
		ct = "application/json"
	}
	ans, err := send(ctx, c.method, proxyURL+c.path, ct, []byte(c.body))
	if err != nil {
		r.p.line("✗ sending failed: %v", err)
		r.problem("the 校园轻松付 day stopped at %s: %v", c.what, err)
		return "", false
	}
	return r.dayCheck(c, ans.status, ans.body, ans.header.Get("Wechatpay-Signature") != "")
}

// dayCheck checks an answer against c and prints the fields it names.
func (r *run) dayCheck(c dayCall, status int, body []byte, signed bool) (string, bool) {
	root := gjson.ParseBytes(body)
	var shown []string
	ok := status == c.status
	for path, want := range c.want {
		got := root.Get(path).String()
		shown = append(shown, path+"="+got)
		if got == "" || want != "*" && got != want {
			ok = false
		}
	}
	slices.Sort(shown)
	if c.status >= 400 {
		shown = append(shown, "message="+root.Get("message").String())
	}
	how := "verified by the proxy"
	if !signed {
		how = "unsigned"
	}
	r.p.line("%s HTTP %d (%s)  %s", mark(ok), status, how, strings.Join(shown, "  "))
	if !ok {
		r.p.block(prettyJSON(body, 200))
		r.problem("the 校园轻松付 day stopped at %s: HTTP %d, want %d with %v", c.what, status, c.status, c.want)
		return "", false
	}
	return root.Get(c.ret).String(), true
}

// daySign plays the user signing in the mini program with the token.
func (r *run) daySign(ctx context.Context, simURL, token string) (string, bool) {
	r.p.line("")
	r.p.line("The user signs in the 校园轻松付 mini program (simulated): POST %s", sandbox.ContractSignPath)
	body := fmt.Sprintf(`{"presign_token": %q, "openid": %q}`, token, dayOpenID)
	ans, err := post(ctx, simURL+sandbox.ContractSignPath, "application/json", []byte(body))
	if err != nil {
		r.p.line("✗ sending failed: %v", err)
		r.problem("the 校园轻松付 day stopped at signing: %v", err)
		return "", false
	}
	c := dayCall{what: "signing", status: 200, want: map[string]string{"contract_id": "*", "contract_status": sandbox.ContractSigned}, ret: "contract_id"}
	return r.dayCheck(c, ans.status, ans.body, ans.header.Get("Wechatpay-Signature") != "")
}

package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// eduDay drives one merchant's 校园轻松付 day against a harness, each
// WeChat Pay answer checked with the official SDK's validator.
type eduDay struct {
	t *testing.T
	h *harness
	c *Credentials
}

func (d eduDay) call(method, uri string, body any) (int, map[string]any) {
	d.t.Helper()
	rr := rawRequest{method: method, uri: uri, mchid: d.c.MchID, serial: d.c.MerchantSerial, key: d.c.MerchantPrivateKey}
	if body != nil {
		rr.body = mustJSON(d.t, body)
	}
	rr.header = map[string]string{"Wechatpay-Serial": d.c.PublicKeyID} // the key the fields are encrypted for
	resp, raw := d.h.do(d.t, rr)
	if err := validateWith(d.c, resp, raw); err != nil {
		d.t.Fatalf("%s %s: answer not signed by merchant %s's WeChat Pay key: %v", method, uri, d.c.MchID, err)
	}
	var out map[string]any
	if resp.StatusCode == http.StatusNoContent && len(raw) == 0 {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		d.t.Fatalf("%s %s: %q: %v", method, uri, raw, err)
	}
	return resp.StatusCode, out
}

// sign plays the user in the signing mini program (no Authorization).
func (d eduDay) sign(token, openid string) (int, map[string]any) {
	d.t.Helper()
	resp, raw := d.h.do(d.t, rawRequest{method: http.MethodPost, uri: ContractSignPath, noAuth: true,
		body: mustJSON(d.t, map[string]string{"presign_token": token, "openid": openid})})
	if resp.Header.Get("Wechatpay-Signature") != "" {
		d.t.Error("the mini program's answer is signed as if WeChat Pay's")
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		d.t.Fatalf("sign: %q: %v", raw, err)
	}
	return resp.StatusCode, out
}

func (d eduDay) presign(outContractCode string) string {
	d.t.Helper()
	body := presignBodyFor(d.t, d.c)
	body["out_contract_code"] = outContractCode
	status, out := d.call(http.MethodPost, PresignPath, body)
	if status != 200 || out["presign_token"] == "" {
		d.t.Fatalf("presign: %d %v", status, out)
	}
	return out["presign_token"].(string)
}

func presignBodyFor(t *testing.T, c *Credentials) map[string]any {
	saved := creds
	creds = c // encPub encrypts for the package's set
	defer func() { creds = saved }()
	return presignBody(t, encPub)
}

func transaction(contractID, outTradeNo string, total int) map[string]any {
	return map[string]any{
		"appid": "wx8888888888888888", "description": "中山大学-第二食堂-海鲜炒饭",
		"out_trade_no": outTradeNo, "contract_id": contractID, "user_id": "20200330tony",
		"amount":     map[string]any{"total": total, "currency": "CNY"},
		"scene_info": map[string]any{"start_time": "2026-12-08T09:43:39+08:00", "school_id": "18260256813396", "scene_type": "CANTEEN"},
	}
}

func refundBody(outTradeNo, outRefundNo string, refund, total int) map[string]any {
	return map[string]any{"out_trade_no": outTradeNo, "out_refund_no": outRefundNo,
		"amount": map[string]any{"refund": refund, "total": total, "currency": "CNY"}}
}

func wantCode(t *testing.T, what string, status int, out map[string]any, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || out["code"] != code {
		t.Errorf("%s: got %d %v, want %d %s", what, status, out, wantStatus, code)
	}
}

// TestEduschoolpayDay: presign → the user signs → contract query → 扣款 →
// order queries → refunds, each state needing the one before.
func TestEduschoolpayDay(t *testing.T) {
	d := eduDay{t: t, h: newHarness(t, nil), c: creds}
	token := d.presign("CONTRACT-DAY-1")

	status, out := d.call(http.MethodPost, EduTransactionsPath, transaction("2045011120563805041758214605", "ORDER1", 888))
	wantCode(t, "扣款 before any contract", status, out, 400, "INVALID_REQUEST")

	status, out = d.sign(token, "someone-else")
	wantCode(t, "signing as another user", status, out, 400, SignTokenInvalid)
	status, contract := d.sign(token, "oUpF8uMuAJOM2pxb1Q")
	if status != 200 || contract["contract_status"] != ContractSigned {
		t.Fatalf("signing: %d %v", status, contract)
	}
	status, out = d.sign(token, "oUpF8uMuAJOM2pxb1Q")
	wantCode(t, "signing twice with one token", status, out, 400, SignTokenInvalid)
	id := contract["contract_id"].(string)
	if len(id) != 28 {
		t.Errorf("contract_id %q, want 28 digits", id)
	}

	status, got := d.call(http.MethodGet, "/v3/eduschoolpay/contracts/"+id, nil)
	if status != 200 || got["contract_status"] != "ADD" || got["mchid"] != d.c.MchID || got["out_contract_code"] != "CONTRACT-DAY-1" ||
		got["plan_id"] != "101164396123311331" || got["openid"] != "oUpF8uMuAJOM2pxb1Q" || got["create_time"] == "" {
		t.Errorf("contract query: %d %v", status, got)
	}
	status, out = d.call(http.MethodGet, "/v3/eduschoolpay/contracts/2045011120563805041758214605", nil)
	wantCode(t, "unknown contract", status, out, 404, "NOT_FOUND")

	status, order := d.call(http.MethodPost, EduTransactionsPath, transaction(id, "ORDER1", 888))
	if status != 200 || order["trade_state"] != "SUCCESS" || order["out_trade_no"] != "ORDER1" || order["mchid"] != d.c.MchID {
		t.Fatalf("扣款: %d %v", status, order)
	}
	if amount, _ := order["amount"].(map[string]any); amount["total"] != 888.0 || amount["currency"] != "CNY" {
		t.Errorf("扣款 amount: %v", order["amount"])
	}
	txID := order["transaction_id"].(string)
	status, again := d.call(http.MethodPost, EduTransactionsPath, transaction(id, "ORDER1", 888))
	if status != 200 || again["transaction_id"] != txID {
		t.Errorf("扣款 retried with the same body: %d %v, want the same order", status, again)
	}
	status, out = d.call(http.MethodPost, EduTransactionsPath, transaction(id, "ORDER1", 999))
	wantCode(t, "扣款 reusing out_trade_no", status, out, 400, "OUT_TRADE_NO_USED")

	for _, uri := range []string{"/v3/eduschoolpay/transactions/out-trade-no/ORDER1", "/v3/eduschoolpay/transactions/id/" + txID} {
		status, q := d.call(http.MethodGet, uri, nil)
		if status != 200 || q["transaction_id"] != txID || q["trade_state"] != "SUCCESS" {
			t.Errorf("GET %s: %d %v", uri, status, q)
		}
	}
	status, out = d.call(http.MethodGet, "/v3/eduschoolpay/transactions/out-trade-no/NOPE", nil)
	wantCode(t, "unknown order", status, out, 404, "ORDER_NOT_EXIST")

	status, out = d.call(http.MethodPost, RefundPath, refundBody("NOPE", "R0", 1, 888))
	wantCode(t, "refund of an unknown order", status, out, 404, "RESOURCE_NOT_EXISTS")
	status, out = d.call(http.MethodPost, RefundPath, refundBody("ORDER1", "R0", 1, 887))
	wantCode(t, "refund with the wrong total", status, out, 400, "INVALID_REQUEST")
	status, r1 := d.call(http.MethodPost, RefundPath, refundBody("ORDER1", "R1", 500, 888))
	if status != 200 || r1["status"] != "SUCCESS" || r1["transaction_id"] != txID {
		t.Fatalf("refund: %d %v", status, r1)
	}
	status, out = d.call(http.MethodPost, RefundPath, refundBody("ORDER1", "R2", 389, 888))
	wantCode(t, "refunding more than is left", status, out, 400, "INVALID_REQUEST")
	status, out = d.call(http.MethodPost, RefundPath, refundBody("ORDER1", "R1", 300, 888))
	wantCode(t, "reusing out_refund_no", status, out, 400, "INVALID_REQUEST")
	status, r2 := d.call(http.MethodPost, RefundPath, map[string]any{"transaction_id": txID, "out_refund_no": "R2",
		"amount": map[string]any{"refund": 388, "total": 888, "currency": "CNY"}})
	if status != 200 || r2["out_trade_no"] != "ORDER1" {
		t.Errorf("refund of the rest by transaction_id: %d %v", status, r2)
	}
	status, q := d.call(http.MethodGet, "/v3/refund/domestic/refunds/R1", nil)
	if status != 200 || q["refund_id"] != r1["refund_id"] {
		t.Errorf("refund query: %d %v", status, q)
	}
	status, out = d.call(http.MethodGet, "/v3/refund/domestic/refunds/NOPE", nil)
	wantCode(t, "unknown refund", status, out, 404, "RESOURCE_NOT_EXISTS")
	status, q = d.call(http.MethodGet, "/v3/eduschoolpay/transactions/out-trade-no/ORDER1", nil)
	if status != 200 || q["trade_state"] != "REFUND" {
		t.Errorf("order after refunds: %d %v", status, q)
	}
}

// TestEduschoolpayRefusals: 扣款's and refunds' fields and business rules,
// each refusal signed, in WeChat Pay's shape.
func TestEduschoolpayRefusals(t *testing.T) {
	d := eduDay{t: t, h: newHarness(t, nil), c: creds}
	_, contract := d.sign(d.presign("CONTRACT-REFUSALS"), "oUpF8uMuAJOM2pxb1Q")
	id, _ := contract["contract_id"].(string)
	if id == "" {
		t.Fatalf("no contract: %v", contract)
	}
	// A second contract of the same plan for the same user is refused.
	status, out := d.sign(d.presign("CONTRACT-REFUSALS-2"), "oUpF8uMuAJOM2pxb1Q")
	wantCode(t, "a second contract of one plan", status, out, 400, SignAlreadySigned)

	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		status int
		code   string
		field  string
	}{
		{"no appid", func(b map[string]any) { delete(b, "appid") }, 400, "PARAM_ERROR", "appid"},
		{"total as text", func(b map[string]any) { b["amount"] = map[string]any{"total": "888"} }, 400, "PARAM_ERROR", "amount.total"},
		{"total zero", func(b map[string]any) { b["amount"] = map[string]any{"total": 0} }, 400, "PARAM_ERROR", "amount.total"},
		{"no school_id", func(b map[string]any) { b["scene_info"] = map[string]any{"scene_type": "CANTEEN"} }, 400, "PARAM_ERROR", "scene_info.school_id"},
		{"no scene_info", func(b map[string]any) { delete(b, "scene_info") }, 400, "PARAM_ERROR", "scene_info"},
		{"dollars", func(b map[string]any) { b["amount"] = map[string]any{"total": 1, "currency": "USD"} }, 400, "PARAM_ERROR", "amount.currency"},
		{"bad out_trade_no", func(b map[string]any) { b["out_trade_no"] = "订单1" }, 400, "PARAM_ERROR", "out_trade_no"},
		{"bad start_time", func(b map[string]any) {
			b["scene_info"] = map[string]any{"school_id": "1", "scene_type": "CANTEEN", "start_time": "yesterday"}
		}, 400, "PARAM_ERROR", "scene_info.start_time"},
		{"another appid", func(b map[string]any) { b["appid"] = "wx0000000000000000" }, 400, "INVALID_REQUEST", ""},
		{"another student", func(b map[string]any) { b["user_id"] = "someone" }, 400, "INVALID_REQUEST", ""},
	} {
		body := transaction(id, "ORDER-"+strings.ReplaceAll(tc.name, " ", "-"), 100)
		tc.mutate(body)
		status, out := d.call(http.MethodPost, EduTransactionsPath, body)
		wantCode(t, tc.name, status, out, tc.status, tc.code)
		if detail, _ := out["detail"].(map[string]any); tc.field != "" && (detail == nil || detail["field"] != tc.field) {
			t.Errorf("%s: detail %v, want field %s", tc.name, out["detail"], tc.field)
		}
		if tc.name == "another student" && out["message"] != "学生账户与合约不匹配" {
			t.Errorf("another student: message %v", out["message"])
		}
	}
	if status, order := d.call(http.MethodPost, EduTransactionsPath, transaction(id, "PAID", 100)); status != 200 {
		t.Fatalf("扣款: %d %v", status, order)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"no order number", map[string]any{"out_refund_no": "R", "amount": map[string]any{"refund": 1, "total": 100, "currency": "CNY"}}, "PARAM_ERROR"},
		{"no currency", map[string]any{"out_trade_no": "PAID", "out_refund_no": "R", "amount": map[string]any{"refund": 1, "total": 100}}, "PARAM_ERROR"},
		{"refund zero", refundBody("PAID", "R", 0, 100), "PARAM_ERROR"},
		{"no out_refund_no", map[string]any{"out_trade_no": "PAID", "amount": map[string]any{"refund": 1, "total": 100, "currency": "CNY"}}, "PARAM_ERROR"},
		{"more than paid", refundBody("PAID", "R", 101, 100), "INVALID_REQUEST"},
	} {
		status, out := d.call(http.MethodPost, RefundPath, tc.body)
		wantCode(t, "refund "+tc.name, status, out, 400, tc.code)
	}
}

// TestContractSignRoute: the simulated mini program's own refusals.
func TestContractSignRoute(t *testing.T) {
	d := eduDay{t: t, h: newHarness(t, nil), c: creds}
	status, out := d.sign("sandbox_unknown", "oUpF8uMuAJOM2pxb1Q")
	wantCode(t, "unknown token", status, out, 400, SignTokenInvalid)
	status, out = d.sign("", "oUpF8uMuAJOM2pxb1Q")
	wantCode(t, "no token", status, out, 400, SignParamError)
	status, out = d.sign(d.presign("C-SIGN"), "")
	wantCode(t, "no openid", status, out, 400, SignParamError)
	resp, _ := d.h.do(t, rawRequest{method: http.MethodGet, uri: ContractSignPath, noAuth: true})
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on the signing route: %d", resp.StatusCode)
	}
}

// TestEduschoolpayContracts: the user's contract list and the merchant's
// termination, after which 扣款 is refused and the user may sign again.
func TestEduschoolpayContracts(t *testing.T) {
	d := eduDay{t: t, h: newHarness(t, nil), c: creds}
	const list = "/v3/eduschoolpay/users/oUpF8uMuAJOM2pxb1Q/contracts?plan_id=101164396123311331&contract_status="
	status, out := d.call(http.MethodGet, list+"ALL", nil)
	if status != 200 || out["total_count"] != 0.0 {
		t.Errorf("no contracts yet: %d %v", status, out)
	}
	_, first := d.sign(d.presign("C-FIRST"), "oUpF8uMuAJOM2pxb1Q")
	id, _ := first["contract_id"].(string)

	status, out = d.call(http.MethodPost, "/v3/eduschoolpay/contracts/"+id+"/terminate", nil)
	if status != 204 {
		t.Fatalf("terminate: %d %v", status, out)
	}
	status, out = d.call(http.MethodPost, "/v3/eduschoolpay/contracts/"+id+"/terminate", nil)
	wantCode(t, "terminating twice", status, out, 400, "INVALID_REQUEST")
	status, out = d.call(http.MethodPost, "/v3/eduschoolpay/contracts/2045011120563805041758214605/terminate", nil)
	wantCode(t, "terminating an unknown contract", status, out, 404, "NOT_FOUND")
	status, out = d.call(http.MethodGet, "/v3/eduschoolpay/contracts/"+id, nil)
	if status != 200 || out["contract_status"] != ContractTerminated {
		t.Errorf("a terminated contract is still found: %d %v", status, out)
	}
	status, out = d.call(http.MethodPost, EduTransactionsPath, transaction(id, "AFTER-TERMINATION", 100))
	wantCode(t, "扣款 on a terminated contract", status, out, 400, "INVALID_REQUEST")

	_, second := d.sign(d.presign("C-SECOND"), "oUpF8uMuAJOM2pxb1Q")
	if second["contract_status"] != ContractSigned {
		t.Fatalf("signing again after termination: %v", second)
	}
	status, out = d.call(http.MethodGet, list+"ALL&limit=40", nil)
	data, _ := out["data"].([]any)
	if status != 200 || out["total_count"] != 2.0 || len(data) != 2 ||
		data[0].(map[string]any)["contract_id"] != second["contract_id"] || data[1].(map[string]any)["contract_id"] != id {
		t.Errorf("ALL, signed first: %d %v", status, out)
	}
	if status, out = d.call(http.MethodGet, list+"DELETE", nil); status != 200 || out["total_count"] != 1.0 {
		t.Errorf("DELETE: %d %v", status, out)
	}
	if status, out = d.call(http.MethodGet, list+"ALL&offset=1&limit=1", nil); status != 200 || len(out["data"].([]any)) != 1 || out["limit"] != 1.0 {
		t.Errorf("a page: %d %v", status, out)
	}
	for _, q := range []string{"BOTH", "ADD&limit=41", "ADD&offset=-1", "ADD&limit=x"} {
		status, out = d.call(http.MethodGet, list+q, nil)
		wantCode(t, "list "+q, status, out, 400, "PARAM_ERROR")
	}
	status, out = d.call(http.MethodGet, "/v3/eduschoolpay/users/oUpF8uMuAJOM2pxb1Q/contracts?contract_status=ADD", nil)
	wantCode(t, "list without plan_id", status, out, 400, "PARAM_ERROR")
}

// TestTerminateNoContentUnderGzip: a 204 stays bodiless with the Gzip fault.
func TestTerminateNoContentUnderGzip(t *testing.T) {
	d := eduDay{t: t, h: newHarness(t, func(c *Config) { c.Faults.Gzip = true }), c: creds}
	_, contract := d.sign(d.presign("C-GZIP"), "oUpF8uMuAJOM2pxb1Q")
	resp, raw := d.h.do(t, rawRequest{method: http.MethodPost, uri: "/v3/eduschoolpay/contracts/" + contract["contract_id"].(string) + "/terminate"})
	if resp.StatusCode != 204 || len(raw) != 0 || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("terminate: %d %q %v", resp.StatusCode, raw, resp.Header)
	}
	if err := validate(resp, raw); err != nil {
		t.Errorf("the 204 is not signed: %v", err)
	}
}

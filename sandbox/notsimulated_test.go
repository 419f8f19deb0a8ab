package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

// TestNotSimulatedEndpoint: a documented endpoint the sandbox does not play
// answers a signed 404 of its own naming it, never WeChat Pay's wrong-URL
// words; an undocumented path keeps WeChat Pay's 404 NOT_FOUND.
func TestNotSimulatedEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		method, uri, endpoint string
	}{
		{http.MethodGet, "/v3/eduschoolpay/users/oUpF8uMuAJOM2pxb1Q/debt-state", "GET /v3/eduschoolpay/users/{openid}/debt-state"},
		{http.MethodGet, "/v3/pay/transactions/id/4200000000202612080000000000?mchid=1900000109", "GET /v3/pay/transactions/id/{transaction_id}"},
		{http.MethodGet, "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000109", "GET /v3/pay/transactions/out-trade-no/{out_trade_no}"},
	} {
		var body []byte
		if tc.method == http.MethodPost {
			body = []byte(`{}`)
		}
		resp, raw := h.do(t, rawRequest{method: tc.method, uri: tc.uri, body: body})
		if err := validate(resp, raw); err != nil {
			t.Errorf("%s: the 404 is not signed: %v", tc.uri, err)
		}
		e := decodeErr(t, raw)
		if resp.StatusCode != 404 || e.Code != NotSimulatedCode || !strings.Contains(e.Message, tc.endpoint) ||
			strings.Contains(e.Message, "请求的接口不存在") || e.Detail["endpoint"] != tc.endpoint {
			t.Errorf("%s %s: %d %s", tc.method, tc.uri, resp.StatusCode, raw)
		}
		if x := h.last(t); x.Endpoint != tc.endpoint {
			t.Errorf("exchange endpoint %q", x.Endpoint)
		}
	}
	resp, raw := h.do(t, rawRequest{method: http.MethodGet, uri: "/v3/no/such/endpoint"})
	if err := validate(resp, raw); err != nil {
		t.Errorf("undocumented path: the 404 is not signed: %v", err)
	}
	if e := decodeErr(t, raw); resp.StatusCode != 404 || e.Code != "NOT_FOUND" || e.Message != "请求的接口不存在，请检查请求方法和URL" {
		t.Errorf("undocumented path: %d %s", resp.StatusCode, raw)
	}
	// A documented path with a method it does not take is a wrong request too.
	resp, raw = h.do(t, rawRequest{method: http.MethodDelete, uri: "/v3/eduschoolpay/transactions"})
	if e := decodeErr(t, raw); resp.StatusCode != 404 || e.Code != "NOT_FOUND" {
		t.Errorf("DELETE on a POST endpoint: %d %s", resp.StatusCode, raw)
	}
}

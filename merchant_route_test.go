package wechatpay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestPerRequestMerchantSkipsAccessLog: a per-request merchant route keeps
// a query that may hold a sensitive value out of Caddy's access log
// whatever it answers: a browser refused before the merchant is looked up
// (it was logged), an unknown merchant, a merchant found.
func TestPerRequestMerchantSkipsAccessLog(t *testing.T) {
	sub, _ := provisionedHandler(t, "")
	outer := &Handler{Merchant: "{http.request.header.X-Wechatpay-Merchant}", logger: sub.logger, queryNames: sub.queryNames,
		perMerchant: &perMerchant{byName: map[string]*Handler{"school": sub}, any: sub}}
	const target = "/v3/aggracct-bc/wb-channel/account/balance?card_no=6222021234567890123"
	for _, tc := range []struct {
		name, merchant, origin string
		status                 int
	}{
		{"a browser", "school", "https://attacker.example", http.StatusForbidden},
		{"an unknown merchant", "bakery", "", http.StatusBadRequest},
	} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("X-Wechatpay-Merchant", tc.merchant)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
		w := runHandler(t, outer, r, nil)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		if skip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.LogSkipVar).(bool); !skip {
			t.Errorf("%s: the access log would record %s", tc.name, target)
		}
		if strings.Contains(w.Body.String(), "6222021234567890123") {
			t.Errorf("%s: the answer quotes the query value", tc.name)
		}
	}
}

package wechatpay

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTrustBoundaryCoversLaterRoutes: the routes the handler answers
// itself besides the API paths, the front-end signing routes included,
// refuse a browser and a rebound name before they sign anything.
func TestTrustBoundaryCoversLaterRoutes(t *testing.T) {
	h, _ := apiv2Handler(t)
	body := `{"send_coupon_params":[{"stock_id":"1212","out_request_no":"REQ1"}]}`
	for _, path := range []string{sendCouponPath, h5CouponPath, payscoreDetailPath} {
		for _, tc := range []struct{ host, header, code string }{
			{"127.0.0.1", "Origin", codeBrowserRequestRefused},
			{"127.0.0.1", "Sec-Fetch-Site", codeBrowserRequestRefused},
			{"rebind.test", "", codeHostNotAllowed},
		} {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			r.Host = tc.host
			if tc.header != "" {
				r.Header.Set(tc.header, "x")
			}
			w, fw, _ := serve(t, h, r, nil)
			if fw != nil || w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), tc.code) || strings.Contains(w.Body.String(), "sign\"") {
				t.Errorf("%s, Host %s, %s: %d %s", path, tc.host, tc.header, w.Code, w.Body)
			}
		}
	}
}

// TestFrontendSignRefusesTextPlain: the front-end signing routes refuse a
// text/plain body (what a page's form or no-cors fetch sends without
// asking) with 415, as every other route does, and sign nothing.
func TestFrontendSignRefusesTextPlain(t *testing.T) {
	h, _ := apiv2Handler(t)
	body := `{"service_id":"88888888000011","out_order_no":"1234323JKHDFE1243252"}`
	for _, path := range []string{sendCouponPath, h5CouponPath, payscoreDetailPath} {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		w, fw, _ := serve(t, h, r, nil)
		if fw != nil || w.Code != http.StatusUnsupportedMediaType || !strings.Contains(w.Body.String(), "application/json") || strings.Contains(w.Body.String(), "sign\"") {
			t.Errorf("%s with text/plain: %d %s", path, w.Code, w.Body)
		}
	}
}

package wechatpay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// runHandler is the one way the root tests run a request through a module's
// ServeHTTP: with Caddy's replacer in the request's context, as Caddy's
// server puts it there, and next as the handler after it (reverse_proxy, the
// app). The helpers of each test file (serve, call, deliver,
// payThroughHandler) only build the request and next.
func runHandler(t testing.TB, h caddyhttp.MiddlewareHandler, r *http.Request, next caddyhttp.Handler) *httptest.ResponseRecorder {
	t.Helper()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r)))
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatal(err)
	}
	return w
}

// provisionFrom is the one way the root tests provision a module: decode
// its JSON form into m, as Caddy does, and provision it in ctx. A JSON
// that does not decode fails the test; Provision's error is returned.
func provisionFrom(t testing.TB, ctx caddy.Context, m caddy.Provisioner, cfg []byte) error {
	t.Helper()
	if err := json.Unmarshal(cfg, m); err != nil {
		t.Fatal(err)
	}
	return m.Provision(ctx)
}

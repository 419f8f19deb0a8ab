// Package idealhandler is a bench-only Caddy HTTP handler for the
// benchmark's diagnostic "ideal" row: placed before reverse_proxy, it does
// per request exactly the crypto of the benchmark's floor row (the shared
// floorcrypto.Work: one SHA256withRSA signature over a request-sized
// message, five RSA-OAEP-SHA1 encryptions, one signature verification) and
// passes the original request body on. No JSON editing, no headers: the
// least any Caddy handler doing this crypto could cost, so that the row
// measures what the crypto costs inside a busy Caddy process.
//
// Only bench/caddybin imports it; it is not part of the wechatpay module.
package idealhandler

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/floorcrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is the http.handlers.bench_ideal module. Its fields are its JSON
// configuration.
type Handler struct {
	// Credentials is the directory of a sandbox credentials set
	// (sandbox.LoadCredentials), the one the floor row is given: the
	// merchant private key signs, the WeChat Pay public key encrypts and
	// verifies, and its sandbox-only private half signs the fixed answer
	// once at provision. Required.
	Credentials string `json:"credentials,omitempty"`

	work *floorcrypto.Work
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.bench_ideal",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the credentials once and builds the crypto's inputs
// (floorcrypto.New, which also precomputes the merchant key).
func (h *Handler) Provision(caddy.Context) error {
	if h.Credentials == "" {
		return errors.New("bench_ideal: credentials is required")
	}
	creds, err := sandbox.LoadCredentials(h.Credentials)
	if err != nil {
		return fmt.Errorf("bench_ideal: %w", err)
	}
	w, err := floorcrypto.New(creds)
	if err != nil {
		return fmt.Errorf("bench_ideal: %w", err)
	}
	h.work = w
	return nil
}

// ServeHTTP reads the request body fully, does the floor's crypto once, and
// calls next with the body it read, unchanged.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	if _, err := h.work.Do(); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("bench_ideal: %w", err))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return next.ServeHTTP(w, r)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

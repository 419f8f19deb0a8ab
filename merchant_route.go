package wechatpay

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
)

// A `merchant` with a placeholder, e.g. {http.request.header.X-Wechatpay-Merchant}
// or {http.request.uri.path.1}, chooses the merchant per request among the
// wechatpay app's merchants. The handler then holds one provisioned handler
// per merchant, each configured as if it named that merchant, and passes
// every request to the one the placeholder names.

// perMerchant is the state of a handler whose merchant is chosen per
// request.
type perMerchant struct {
	byName        map[string]*Handler // the app's merchants, provisioned
	any           *Handler            // one of them: the request-origin checks are the same in each
	routingHeader []string            // request headers the placeholder reads: not sent to WeChat Pay
}

// routingHeaderRE finds the request headers a placeholder reads.
var routingHeaderRE = regexp.MustCompile(`\{http\.request\.header\.([^}]+)\}`)

// choosesPerRequest reports whether a merchant option is a placeholder.
func choosesPerRequest(merchant string) bool { return strings.Contains(merchant, "{") }

// provisionPerRequest provisions a handler for each merchant of the app,
// each with the handler's own options and that merchant.
func (h *Handler) provisionPerRequest(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := noInlineKeys(h.Merchant, [2]string{"mchid", h.MchID}, [2]string{"serial_no", h.SerialNo},
		[2]string{"private_key", h.PrivateKey}, [2]string{"merchant_certificate", h.MerchantCertificate},
		[2]string{"public_key_id", h.PublicKeyID}, [2]string{"public_key", h.PublicKey},
		[2]string{"platform_certificate", strings.Join(h.PlatformCertificate, "")}, [2]string{"wechatpay_serial", h.WechatPaySerial}); err != nil {
		return err
	}
	app, err := ctx.AppIfConfigured("wechatpay")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return fmt.Errorf("merchant %s: no wechatpay app is configured to choose a merchant from; define the merchants in the global options block", h.Merchant)
	}
	if err != nil {
		return err
	}
	names := app.(*App).names()
	if len(names) == 0 {
		return fmt.Errorf("merchant %s: the wechatpay app defines no merchant", h.Merchant)
	}
	pm := &perMerchant{byName: make(map[string]*Handler, len(names))}
	for _, m := range routingHeaderRE.FindAllStringSubmatch(h.Merchant, -1) {
		pm.routingHeader = append(pm.routingHeader, m[1])
	}
	for _, name := range names {
		sub := *h
		sub.Merchant = name
		if err := sub.Provision(ctx); err != nil {
			return fmt.Errorf("merchant %s (chosen by %s): %w", name, h.Merchant, err)
		}
		sub.logger = sub.logger.With(zap.String("merchant", name))
		pm.byName[name], pm.any = &sub, &sub
		h.queryNames = sub.queryNames // the same encrypt rules in each: for the access-log decision of a refusal
	}
	h.perMerchant = pm
	return h.provisionMetrics(ctx) // the merchant label of a request no merchant answers: the placeholder
}

// noInlineKeys refuses key options written in a handler that names a
// merchant (inline: option name, value): a merchant's keys live in one
// place.
func noInlineKeys(merchant string, inline ...[2]string) error {
	var set []string
	for _, o := range inline {
		if o[1] != "" {
			set = append(set, o[0])
		}
	}
	if len(set) == 0 {
		return nil
	}
	verb := "belong"
	if len(set) == 1 {
		verb = "belongs"
	}
	return fmt.Errorf("merchant %q: %s %s in the merchant's block of the global wechatpay app; with merchant set, write no key options in the handler",
		merchant, strings.Join(set, ", "), verb)
}

// servePerRequest resolves the merchant placeholder and passes the request
// to that merchant's handler; an empty or unknown name is refused with 400
// MERCHANT_UNKNOWN, naming the placeholder, and nothing goes upstream.
func (h *Handler) servePerRequest(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.mayLogSensitive(r) {
		// As in ServeHTTP: whatever the answer, a query that may hold a
		// sensitive value gets no access log line.
		caddyhttp.SetVar(r.Context(), caddyhttp.LogSkipVar, true)
	}
	// First, as in every handler: a browser or a rebound name learns
	// nothing, not even which merchants exist.
	if ae := h.perMerchant.any.checkTrustBoundary(r); ae != nil {
		return h.refuse(w, r, ae)
	}
	name := ""
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		name = repl.ReplaceAll(h.Merchant, "")
	}
	sub := h.perMerchant.byName[name]
	if sub == nil {
		msg := "merchant " + h.Merchant + " resolved to nothing: the request does not say which merchant it is for"
		if name != "" {
			msg = "merchant " + h.Merchant + " resolved to " + strconv.Quote(logtext.Truncate(name, 64)) +
				", which is not a merchant of the wechatpay app"
		}
		return h.refuse(w, r, &apiError{status: http.StatusBadRequest, code: codeMerchantUnknown, message: msg})
	}
	for _, name := range h.perMerchant.routingHeader {
		r.Header.Del(name) // it chose the merchant; WeChat Pay has no use for it
	}
	return sub.ServeHTTP(w, r, next)
}

package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/bill"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/catalog"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/sensitive"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler encrypts, signs and forwards WeChat Pay APIv3 requests. Its fields
// are the JSON configuration of the `wechatpay` handler; the Caddyfile
// directive of the same name sets the same fields.
type Handler struct {
	// Merchant names a merchant of the global wechatpay app, whose keys
	// (and downloaded platform certificates) the handler then uses. With
	// it, mchid, serial_no, private_key and the WeChat Pay key options
	// must be left out.
	Merchant string `json:"merchant,omitempty"`

	// MchID is the merchant number (商户号), digits. Required unless
	// Merchant is set.
	MchID string `json:"mchid,omitempty"`

	// SerialNo is the serial of the merchant API certificate (商户API证书序列号),
	// hexadecimal. It goes into the Authorization header. Required.
	SerialNo string `json:"serial_no,omitempty"`

	// PrivateKey is the merchant API private key (apiclient_key.pem), PKCS #8
	// or PKCS #1: a file path, or the PEM text itself, so that placeholders
	// such as {env.WECHATPAY_PRIVATE_KEY} or {file./path} work. Required.
	// Prefer a path or a placeholder: a literal key in the JSON config would
	// be served by Caddy's admin API.
	PrivateKey string `json:"private_key,omitempty"`

	// MerchantCertificate is the merchant API certificate
	// (apiclient_cert.pem): a file path or PEM text. Optional; when given,
	// it must be the certificate of PrivateKey with the serial SerialNo
	// (checked at start and at each key reload), and its expiry is
	// reported in the metrics and warned of 30 days ahead.
	MerchantCertificate string `json:"merchant_certificate,omitempty"`

	// WechatPayKeys are the WeChat Pay public key and/or platform
	// certificates (public_key_id, public_key, platform_certificate,
	// wechatpay_serial); at least one key is required.
	WechatPayKeys

	// Encrypt adds encryption rules to the built-in catalog. A rule for a
	// route that already has one adds its fields to it, or replaces them
	// when the rule says so.
	Encrypt []EncryptRule `json:"encrypt,omitempty"`

	// Catalog turns the built-in catalog of every APIv3 endpoint with
	// sensitive fields (request body, query and response) off when false;
	// only Encrypt rules then apply. Default: true.
	Catalog *bool `json:"catalog,omitempty"`

	// DecryptResponses decrypts, after verification, the response fields that
	// WeChat Pay encrypted for the merchant (cataloged response fields),
	// with the merchant private key, so the app sees plaintext.
	// Default: false.
	DecryptResponses bool `json:"decrypt_responses,omitempty"`

	// RequestPayment adds to the verified response of a JSAPI, mini
	// program or APP prepay call (POST /v3/pay/transactions/jsapi, .../app,
	// their partner and combine forms) a member "request_payment": the
	// object the WeChat client takes to open the payment sheet
	// (wx.requestPayment, getBrandWCPayRequest, the OpenSDK's PayReq),
	// signed with the merchant key; and answers POST
	// /wechatpay/request-payment, which signs it again for a stored
	// prepay_id. The splice signs only a prepay_id that WeChat Pay signed,
	// hence it needs verify_responses; the re-sign route signs any
	// well-formed prepay_id for whoever may use the proxy, as the proxy
	// signs any API call for them. Default: false.
	RequestPayment bool `json:"request_payment,omitempty"`

	// APIv2Key is the APIv2 key (API密钥, 32 characters), as a placeholder
	// only: {env.X} or {file./path}. With it the handler answers POST
	// /wechatpay/sign/send-coupon, /wechatpay/sign/h5-coupon and
	// /wechatpay/sign/payscore-detail, which sign the front-end forms
	// WeChat Pay defines with this key (see frontend_sign.go). With
	// merchant set, the merchant's apiv2_key is used instead.
	APIv2Key string `json:"apiv2_key,omitempty"`

	// MaxBody is the largest request body accepted, in bytes (after
	// decoding a gzip body). Default: 1 MiB. Larger bodies get 413.
	MaxBody int64 `json:"max_body,omitempty"`

	// VerifyResponses turns the verification of WeChat Pay's responses off
	// when false. For debugging only: an unverified response can be forged.
	// Default: true.
	VerifyResponses *bool `json:"verify_responses,omitempty"`

	// AllowPaths lists more path prefixes, besides /v3/, that are signed
	// and forwarded (each starts and ends with /). Any other path is refused
	// with 404, so that the merchant's key signs only API calls.
	AllowPaths []string `json:"allow_paths,omitempty"`

	// AllowHosts lists the names, besides IP literals and localhost, that
	// a plain-HTTP request may carry in Host: the names apps call the
	// proxy by (a Docker or Kubernetes service name, say). Exact names,
	// compared without regard to case, the port ignored; a leading "*."
	// matches one label. Any other Host is refused with 403, as a web
	// page after DNS rebinding sends its own name. Not checked over TLS,
	// whose certificate binds the name, nor over a Unix socket.
	AllowHosts []string `json:"allow_hosts,omitempty"`

	// SkipVerify lists more path prefixes whose responses are not signed by
	// WeChat Pay and pass unverified, besides GET requests of the built-in
	// download /v3/merchant-service/images/. A prefix matches whole path
	// segments. Bill downloads are checked against the digest of their
	// verified list answer (docs/bills.md); skip_verify /v3/billdownload/
	// passes them unchecked.
	SkipVerify []string `json:"skip_verify,omitempty"`

	// MaxBillSize is the largest bill download checked, in bytes; a larger
	// one is refused with BILL_TOO_LARGE. Default: 4 GiB.
	MaxBillSize int64 `json:"max_bill_size,omitempty"`

	logger     *zap.Logger
	routes     catalog.Layered // the shared built-in catalog, and this handler's encrypt rules over it
	userAgent  string
	queryNames []string // every sensitive query parameter name, lower case
	hostRules  proxyhttp.HostRules
	keySource
	metrics     *handlerMetrics // nil without a metrics registry
	perMerchant *perMerchant    // set when merchant is a placeholder (merchant_route.go)

	bills    *bill.Store     // the download records (bills.go)
	billsCtx context.Context // the handler's life, for the records' sweep
}

// unsignedDownloads are the paths whose GET responses WeChat Pay does not
// sign (an upload under them is answered signed).
var unsignedDownloads = []string{"/v3/merchant-service/images/"}

// EncryptRule names the sensitive fields of one endpoint.
type EncryptRule struct {
	// Method is the HTTP method, e.g. "POST".
	Method string `json:"method"`
	// Path is the endpoint's path; segments written {name} match any one
	// segment, e.g. "/v3/facemch/users/{face_sid}".
	Path string `json:"path"`
	// Fields are the sensitive fields as gjson-style paths: object keys
	// separated by dots, and # for every element of an array, e.g.
	// "transfer_detail_list.#.user_name".
	Fields []string `json:"fields,omitempty"`
	// Query are the names of sensitive query parameters.
	Query []string `json:"query,omitempty"`
	// Replace makes the rule take the place of the built-in rule of the
	// same route instead of adding to it.
	Replace bool `json:"replace,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.wechatpay",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves placeholders, loads the keys and compiles the rules.
// Every error names the option at fault and never quotes key material.
func (h *Handler) Provision(ctx caddy.Context) error {
	if choosesPerRequest(h.Merchant) {
		return h.provisionPerRequest(ctx)
	}
	h.logger = ctx.Logger()
	if h.Merchant != "" {
		_, err := h.useMerchant(ctx, h.Merchant, [2]string{"mchid", h.MchID}, [2]string{"serial_no", h.SerialNo},
			[2]string{"private_key", h.PrivateKey}, [2]string{"merchant_certificate", h.MerchantCertificate},
			[2]string{"public_key_id", h.PublicKeyID}, [2]string{"public_key", h.PublicKey},
			[2]string{"platform_certificate", strings.Join(h.PlatformCertificate, "")}, [2]string{"wechatpay_serial", h.WechatPaySerial}, [2]string{apiv2KeyOption, h.APIv2Key})
		if err != nil {
			return err
		}
	} else {
		own := keyOptions{mchid: h.MchID, serialNo: h.SerialNo, privateKey: h.PrivateKey, WechatPayKeys: h.WechatPayKeys}
		own.merchantCert, own.apiv2Key = h.MerchantCertificate, h.APIv2Key
		if err := h.useOwn(func() (*keySet, error) { return own.loadKeySet(h.logger) }); err != nil {
			return err
		}
	}
	if err := h.checkOptions(); err != nil {
		return err
	}
	if h.RequestPayment && !h.verifying() {
		return errors.New("request_payment needs verify_responses on: a payment invocation is only signed for a prepay_id that WeChat Pay signed")
	}
	if !h.verifying() {
		h.logger.Warn("verify_responses is off: WeChat Pay's answers reach clients unverified and could be forged; use this only for debugging")
	}

	if err := h.compileRoutes(); err != nil {
		return err
	}
	if h.MaxBody == 0 {
		h.MaxBody = proxyhttp.DefaultMaxBody
	}
	if err := h.provisionBills(ctx); err != nil {
		return err
	}
	h.userAgent = userAgent()
	h.queryNames = h.routes.QueryNames()
	if err := h.provisionMetrics(ctx); err != nil {
		return err
	}
	if h.own != nil {
		// Last, once every field is set: a key reload may run at once.
		registerKeyHolder(ctx, h)
	}
	return nil
}

// checkOptions checks the handler's own options, with keys of its own or a
// merchant's.
func (h *Handler) checkOptions() error {
	if err := checkMaxBody(h.MaxBody); err != nil {
		return err
	}
	for _, rule := range h.Encrypt {
		if !validMethod(strings.ToUpper(rule.Method)) {
			return fmt.Errorf("encrypt: %q is not an HTTP method", rule.Method)
		}
	}
	for _, p := range h.SkipVerify {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("skip_verify: path %q must start with /", p)
		}
	}
	for _, p := range h.AllowPaths {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
			return fmt.Errorf("allow_paths: prefix %q must start and end with /", p)
		}
	}
	var err error
	h.hostRules, err = proxyhttp.CompileAllowHosts(h.AllowHosts)
	return err
}

// compileRoutes builds the route table from the built-in catalog (unless
// catalog is off) and the encrypt rules.
func (h *Handler) compileRoutes() error {
	if h.Catalog == nil || *h.Catalog {
		builtin, err := catalog.Builtin() // compiled once per process, shared by every handler
		if err != nil {
			return fmt.Errorf("built-in catalog: %w", err)
		}
		h.routes.Base = builtin
	}
	for _, rule := range h.Encrypt {
		if err := h.routes.AddOwn(catalog.Entries, rule.Method, rule.Path, catalog.Rules{Body: rule.Fields, Query: rule.Query}, rule.Replace); err != nil {
			return fmt.Errorf("encrypt: %w", err)
		}
	}
	return nil
}

// Validate checks the provisioned handler.
func (h *Handler) Validate() error {
	if h.keys == nil && h.perMerchant == nil {
		return errors.New("wechatpay handler is not provisioned")
	}
	return nil
}

// ServeHTTP encrypts and signs the request, then hands it to the next
// handler, which is reverse_proxy.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.perMerchant != nil {
		return h.servePerRequest(w, r, next)
	}
	start := time.Now()
	var upstream upstreamTimer // the time in reverse_proxy, waiting for WeChat Pay
	defer h.metrics.durations(start, &upstream)
	if h.mayLogSensitive(r) {
		// Caddy's access log records the URI as the client sent it:
		// a request that may carry a sensitive value in its query must
		// have no access log line, whether it is refused or forwarded
		// (the module's own line names the path only).
		caddyhttp.SetVar(r.Context(), caddyhttp.LogSkipVar, true)
	}
	// Before anything else, on every route: no browser, no rebound name.
	if ae := h.checkTrustBoundary(r); ae != nil {
		return h.refuse(w, r, ae)
	}
	keys := h.keys() // certificates downloaded or keys reloaded change them while Caddy runs
	if keys.encrypter == nil {
		if keys = h.awaitStart(r.Context()); keys.encrypter == nil {
			return h.refuse(w, r, errNoMerchantKey)
		}
	}
	if h.RequestPayment && r.URL.Path == requestPaymentPath {
		return h.serveRequestPayment(w, r, keys)
	}
	if form := frontendForms[r.URL.Path]; form != nil && keys.apiv2Key != nil {
		return h.serveFrontendSign(w, r, keys, form)
	}
	if ae := refused(proxyhttp.CheckAPIPath(r.URL, h.AllowPaths)); ae != nil {
		return h.refuse(w, r, ae)
	}
	if r.Method == http.MethodHead {
		// WeChat Pay's signature covers the body, which the answer to a
		// HEAD leaves out: it could never be verified.
		w.Header().Set("Allow", "GET, POST, PUT, PATCH, DELETE")
		return h.refuse(w, r, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
			message: "HEAD is not forwarded: WeChat Pay's signature covers the body that a HEAD answer leaves out; send GET"})
	}
	if ae := refused(proxyhttp.CheckBodyType(r)); ae != nil {
		return h.refuse(w, r, ae)
	}
	body, rf := proxyhttp.ReadBody(r, h.MaxBody)
	ae := refused(rf)
	if ae != nil {
		return h.refuse(w, r, ae)
	}
	payment := h.prepayInvocation(r, body.Bytes()) // read before the body is encrypted

	rt := h.routes.Lookup(r.Method, r.URL.Path)
	out, encrypted, ae := encryptRequest(r, rt, body.Bytes(), keys.encrypter)
	if ae != nil {
		proxyhttp.Release(body)
		return h.refuse(w, r, ae)
	}
	h.metrics.fields(encrypted)
	if out.readBufferFree {
		defer proxyhttp.Release(body)
	}
	if err := h.signRequest(r, out, keys); err != nil {
		return h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: codeProxyError, message: "signing the request failed", cause: err})
	}

	if !h.verifying() || h.respondsUnsigned(r) {
		return h.streamUnverified(w, r, next, rt, encrypted, start, &upstream)
	}
	if done, err := h.serveBillDownload(w, r, next, keys, start, &upstream); done {
		return err
	}
	resp := proxyhttp.NewBufferedResponse(w)
	defer resp.Release()
	if ae := proxyInto(resp, r, next, &upstream); ae != nil {
		return h.refuse(w, r, ae)
	}
	result, ae := h.deliverVerified(w, r, resp, rt, keys, payment)
	if ae != nil {
		return h.refuse(w, r, ae)
	}
	h.metrics.request(r, metriclabels.Verified)
	h.logForwarded(r, rt, encrypted, start, result)
	return nil
}

// mayLogSensitive reports whether the URI the access log would record for r
// may hold a sensitive query value: r's, or the one the client sent if a
// handler before this one rewrote it (the access log records that one).
func (h *Handler) mayLogSensitive(r *http.Request) bool {
	if sensitive.QueryMayShowSensitive(r.RequestURI, h.queryNames) {
		return true
	}
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	return ok && orig.RequestURI != r.RequestURI && sensitive.QueryMayShowSensitive(orig.RequestURI, h.queryNames)
}

// streamUnverified passes a response that is not verified (an unsigned
// download, a skip_verify path, any response with verify_responses off) to
// the client as it arrives, with only the headers proxyhttp.PassedDownloadHeader
// allows. A failure before the response begins is answered in WeChat Pay's
// error shape, as on verified paths: returned to Caddy, it would be logged
// with the URI as the client sent it, a sensitive query value included.
func (h *Handler) streamUnverified(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, rt *catalog.Route, encrypted int, start time.Time, upstream *upstreamTimer) error {
	sw := proxyhttp.NewStreamedResponse(w)
	began := time.Now()
	err := next.ServeHTTP(sw, r)
	upstream.stop(began)
	outcome := metriclabels.Unverified
	if err == nil && !sw.WroteHeader() {
		return h.refuse(w, r, errNoUpstream)
	}
	if ae := upstreamError(err); ae != nil {
		if !sw.WroteHeader() {
			return h.refuse(w, r, ae)
		}
		h.logger.Warn("the unverified answer failed after it began", zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.String("code", ae.code))
		outcome = ae.code
	}
	h.metrics.request(r, outcome)
	h.logForwarded(r, rt, encrypted, start, "unverified")
	return nil
}

func (h *Handler) verifying() bool { return h.VerifyResponses == nil || *h.VerifyResponses }

// respondsUnsigned reports whether WeChat Pay answers r unsigned: a
// download (GET) of a built-in download path, or a skip_verify path.
func (h *Handler) respondsUnsigned(r *http.Request) bool {
	return r.Method == http.MethodGet && proxyhttp.HasPathPrefix(r.URL.Path, unsignedDownloads) || proxyhttp.HasPathPrefix(r.URL.Path, h.SkipVerify)
}

// deliverVerified checks the buffered response and writes it to the client, or
// returns the refusal to send instead; the unverified body is never written.
// Unsigned error responses (from a gateway in front of WeChat Pay, say) pass
// unchanged: their status already tells the app that the call failed.
func (h *Handler) deliverVerified(w http.ResponseWriter, r *http.Request, resp *proxyhttp.BufferedResponse, rt *catalog.Route, keys *keySet, payment *invocationRequest) (string, *apiError) {
	if resp.Overflowed() {
		return "", refused(proxyhttp.ResponseTooLarge())
	}
	if resp.Truncated() {
		return "", &apiError{status: http.StatusBadGateway, code: codeUpstreamIncomplete, message: "WeChat Pay's answer was cut short"}
	}
	body, rf := resp.DecodedBody()
	if rf != nil {
		return "", refused(rf)
	}
	if resp.Status() >= 400 && !proxyhttp.HasSignature(resp.Received()) {
		// A gateway's page, or anything else nobody signed: the app gets
		// the status and WeChat Pay's error shape, never the unsigned body,
		// which could carry a forged code.
		requestID := resp.Received().Get("Request-ID")
		h.logger.Warn("unsigned error answer", zap.Int("status", resp.Status()), zap.String("request_id", requestID))
		msg := "WeChat Pay (or a gateway before it) answered " + strconv.Itoa(resp.Status()) + " without a signature"
		if requestID != "" {
			msg += " (Request-ID " + requestID + ")"
		}
		return "", &apiError{status: resp.Status(), code: codeUpstreamError, message: msg}
	}
	signed, err := keys.verifier.Check(resp.Received(), body)
	if err != nil {
		ve := apiv3.AsVerifyError(err)
		h.metrics.verifyFailed(ve.Code)
		msg := "WeChat Pay's answer failed verification: " + ve.Reason
		var hint string
		if ve.Code == apiv3.CodeTimestampExpired {
			hint = hostClock.clockHint(time.Now(), resp.Received(), ve)
		}
		h.logger.Error("WeChat Pay's answer failed verification",
			zap.String("code", ve.Code), zap.String("reason", ve.Reason),
			zap.String("serial", ve.Serial), zap.String("request_id", ve.RequestID),
			zap.Int("upstream_status", resp.Status()), zap.String("clock", hint))
		if hint != "" {
			msg += "; " + hint
		}
		if ve.RequestID != "" {
			msg += " (Request-ID " + ve.RequestID + ")"
		}
		return "", &apiError{status: http.StatusBadGateway, code: ve.Code, message: msg}
	}
	hostClock.observe(h.logger, time.Now(), signed)
	h.recordBills(r, body, resp.Status()) // before decryption: encrypt_key as WeChat Pay sent it
	h.metrics.refusal(resp.Status(), body)
	result := "verified"
	if h.DecryptResponses && rt != nil && rt.Response != nil && resp.Status() < 300 && len(body) > 0 {
		plain, _, err := keys.decrypter.DecryptFields(body, rt.Response)
		if err != nil {
			h.logger.Error("decrypting WeChat Pay's answer failed", zap.Error(err),
				zap.String("request_id", resp.Received().Get("Request-ID")))
			return "", &apiError{status: http.StatusBadGateway, code: codeResponseDecryptFailed,
				message: "WeChat Pay's answer could not be decrypted: " + err.Error()}
		}
		body, result = plain, "verified, decrypted"
	}
	if payment != nil && resp.Status() >= 200 && resp.Status() < 300 {
		var unsigned string
		if body, unsigned = h.withInvocation(body, payment, keys.signer); unsigned != "" {
			h.logger.Warn("no payment invocation signed for this prepay response", zap.String("path", r.URL.Path),
				zap.String("reason", unsigned), zap.String("request_id", resp.Received().Get("Request-ID")))
		} else {
			result += ", invocation signed"
		}
	}
	resp.Deliver(w, body)
	return result, nil
}

func (h *Handler) logForwarded(r *http.Request, rt *catalog.Route, encrypted int, start time.Time, result string) {
	if c := h.logger.Check(zapcore.DebugLevel, "forwarded"); c != nil {
		c.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("rule", ruleName(rt)), zap.Int("encrypted", encrypted),
			zap.String("answer", result), zap.Duration("duration", time.Since(start)))
	}
}

func ruleName(rt *catalog.Route) string {
	if rt == nil {
		return ""
	}
	return rt.Method + " " + rt.Template
}

// refuse answers a JSON error instead of what was asked for, and logs it.
// Before the request is forwarded nothing goes upstream; after, it replaces
// WeChat Pay's answer (one that failed verification, say).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, ae *apiError) error {
	h.metrics.request(r, ae.code)
	if c := h.logger.Check(zapcore.InfoLevel, "refused"); c != nil {
		c.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", ae.status), zap.String("code", ae.code),
			zap.String("field", ae.field), zap.String("reason", ae.message), zap.NamedError("cause", ae.cause))
	}
	if ae.closeConnection {
		proxyhttp.DrainWhileSending(w, r)
		w.Header().Set("Connection", "close")
	}
	writeError(w, ae.status, ae.code, ae.message)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// validMethod reports whether an encrypt rule names a method WeChat Pay's
// APIv3 uses.
func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// holderName names a handler with keys of its own by its merchant number.
func (h *Handler) holderName() string {
	return "wechatpay handler (mchid " + h.currentKeys().signer.MchID + ")"
}

// checkTrustBoundary runs the trust boundary's checks (internal/proxyhttp):
// first the browser's headers, then the Host.
func (h *Handler) checkTrustBoundary(r *http.Request) *apiError {
	if ae := refused(proxyhttp.CheckBrowser(r)); ae != nil {
		return ae
	}
	return refused(h.hostRules.CheckHost(r))
}

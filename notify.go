package wechatpay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/dedup"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/notification"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func init() {
	caddy.RegisterModule(NotifyHandler{})
}

// defaultNotifyMaxBody is the callback body cap when max_body is not set.
// WeChat Pay's callbacks are a few KiB (a payment result is about 1 KiB of
// ciphertext); 64 KiB leaves ample room while bounding what an unverified
// sender can make the proxy buffer.
const defaultNotifyMaxBody = 64 << 10

// notifyFail is the code of every response to WeChat Pay other than 204, the
// shape WeChat Pay's documentation asks merchants to answer failures with.
const notifyFail = "FAIL"

// Headers set on the request the app receives.
const (
	// notificationIDHeader carries the notification's id.
	notificationIDHeader = "Wechatpay-Notification-Id"
	// eventTypeHeader carries its event_type, e.g. TRANSACTION.SUCCESS.
	eventTypeHeader = "Wechatpay-Event-Type"
)

// signatureHeaders are WeChat Pay's signature headers. They are removed from
// the request the app receives: they sign the encrypted envelope, not the
// plaintext one the app gets, so an app trying to check them would fail.
var signatureHeaders = []string{"Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce",
	"Wechatpay-Serial", "Wechatpay-Signature-Type"}

// notifyPassedHeaders are the callback's own headers that reach the app,
// besides those the handler sets. WeChat Pay signs the body only: any
// header could have been added by whoever sent the request, and an app
// (or a framework honouring X-Original-URL or X-HTTP-Method-Override)
// might act on it. Those passed are informational (Request-ID, User-Agent),
// or ones reverse_proxy replaces unless they come from a trusted proxy
// (X-Forwarded-*), or the trace context the tracing directive sets.
var notifyPassedHeaders = map[string]bool{
	"Request-Id": true, "User-Agent": true,
	"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true,
	"Traceparent": true, "Tracestate": true,
}

// NotifyHandler receives WeChat Pay's callbacks (notifications) for the app
// behind it: it verifies each one, decrypts its resource with the APIv3 key,
// forwards the plaintext envelope to the next handler (reverse_proxy to the
// app) and translates the app's response for WeChat Pay. Its fields are the
// JSON configuration of the `wechatpay_notify` handler; the Caddyfile
// directive of the same name sets the same fields.
type NotifyHandler struct {
	// Merchant names a merchant of the global wechatpay app, whose APIv3
	// key and WeChat Pay keys (downloaded platform certificates included)
	// the handler then uses. With it, apiv3_key and the key options must
	// be left out.
	Merchant string `json:"merchant,omitempty"`

	// APIv3Key is the merchant's APIv3 key (APIv3密钥), exactly 32 bytes
	// once placeholders are resolved. Write a placeholder such as
	// {env.WECHATPAY_APIV3_KEY} or {file./etc/wechatpay/apiv3_key.txt}: a
	// literal key in the JSON config would be served by Caddy's admin API.
	// Required unless Merchant is set.
	APIv3Key string `json:"apiv3_key,omitempty"`

	// WechatPayKeys are the WeChat Pay public key and/or platform
	// certificates that callbacks are verified with (public_key_id,
	// public_key, platform_certificate); at least one is required.
	// wechatpay_serial has no meaning here and is refused.
	WechatPayKeys

	// MaxBody is the largest callback body accepted, in bytes. Default:
	// 64 KiB. Larger bodies get 413 and never reach the app.
	MaxBody int64 `json:"max_body,omitempty"`

	// Dedup, when true (the default), remembers for 48 hours, in Caddy's
	// storage, each notification id the app acknowledged; a resend of it
	// is answered 204 without reaching the app again. Set false to forward
	// every verified delivery.
	Dedup *bool `json:"dedup,omitempty"`

	logger *zap.Logger
	keySource
	store *dedup.Store // nil when dedup is off

	metrics *notifyMetrics // nil without a metrics registry
}

// CaddyModule returns the Caddy module information.
func (NotifyHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.wechatpay_notify",
		New: func() caddy.Module { return new(NotifyHandler) },
	}
}

// Provision resolves placeholders, loads the keys and sets up the dedup
// records. Errors name the option at fault and never quote a key.
func (h *NotifyHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.WechatPaySerial != "" {
		return errors.New("wechatpay_serial has no meaning for wechatpay_notify: callbacks verify under any configured key")
	}
	if err := checkMaxBody(h.MaxBody); err != nil {
		return err
	}
	if h.MaxBody == 0 {
		h.MaxBody = defaultNotifyMaxBody
	}
	var scope string
	if h.Merchant != "" {
		var err error
		if scope, err = h.useMerchant(ctx); err != nil {
			return err
		}
	} else {
		var err error
		if scope, err = h.useInlineKeys(); err != nil {
			return err
		}
	}

	if h.Dedup == nil || *h.Dedup {
		// The scope keeps the records of different merchants apart in a
		// shared storage: the merchant number, or for inline keys the
		// public key ID (or first certificate serial): public and per
		// merchant, unlike anything derived from the APIv3 key.
		h.store = &dedup.Store{Storage: ctx.Storage(), Scope: scope, Now: time.Now}
		startSweeper(ctx.Context, h.store, h.logger)
	}
	// Every log line names the merchant: the app's merchant name, or the
	// scope of a handler with keys of its own.
	if h.Merchant != "" {
		h.logger = h.logger.With(zap.String("merchant", h.Merchant))
	} else {
		h.logger = h.logger.With(zap.String("merchant", scope))
	}
	if err := h.provisionMetrics(ctx, scope); err != nil {
		return err
	}
	if h.own != nil {
		// Last, once every field is set: a key reload may run at once.
		registerKeyHolder(ctx, h)
	}
	return nil
}

// useMerchant takes the APIv3 key and the WeChat Pay keys from the app's
// merchant, and returns the dedup scope.
func (h *NotifyHandler) useMerchant(ctx caddy.Context) (string, error) {
	m, err := h.keySource.useMerchant(ctx, h.Merchant, [2]string{"apiv3_key", h.APIv3Key}, [2]string{"public_key_id", h.PublicKeyID},
		[2]string{"public_key", h.PublicKey}, [2]string{"platform_certificate", strings.Join(h.PlatformCertificate, "")})
	if err != nil {
		return "", err
	}
	if m.apiv3() == nil {
		return "", fmt.Errorf("merchant %q has no apiv3_key, which decrypts callbacks", h.Merchant)
	}
	return m.currentSigner().MchID, nil
}

// useInlineKeys loads the handler's own apiv3_key and WeChat Pay keys, and
// returns the dedup scope: the first WeChat Pay key's ID or serial as
// configured at start.
func (h *NotifyHandler) useInlineKeys() (string, error) {
	own := keyOptions{apiv3Key: h.APIv3Key, WechatPayKeys: h.WechatPayKeys}
	var scope string
	err := h.useOwn(func() (*keySet, error) { // at start and at each key reload
		key, aead, err := own.loadAPIv3AEAD(h.logger)
		if err != nil {
			return nil, err
		}
		if key == nil {
			return nil, errors.New("apiv3_key is required: the merchant's APIv3 key, which decrypts callbacks")
		}
		trusted, err := own.WechatPayKeys.load(h.logger)
		if err != nil {
			return nil, err
		}
		if scope == "" {
			scope = trusted.order[0]
		}
		keys := newKeySet(nil, trusted.byID, "")
		keys.apiv3Key, keys.aead = key, aead
		return keys, nil
	})
	return scope, err
}

// Validate checks the provisioned handler.
func (h *NotifyHandler) Validate() error {
	if h.keys == nil || h.keys().aead == nil {
		return errors.New("wechatpay_notify handler is not provisioned")
	}
	return nil
}

// ServeHTTP verifies and decrypts one callback, forwards the plaintext
// envelope to the next handler (reverse_proxy to the app) and answers WeChat
// Pay 204 when the app acknowledged it with a 2xx, else 500 FAIL so that
// WeChat Pay sends it again. A refused callback never reaches the app.
func (h *NotifyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.refuse(w, r, nil, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, message: "callbacks are POST requests"})
	}
	buf, rf := proxyhttp.ReadBody(r, h.MaxBody)
	ae := refused(rf)
	if ae != nil {
		if ae.closeConnection {
			proxyhttp.DrainWhileSending(w, r)
			w.Header().Set("Connection", "close")
		}
		return h.refuse(w, r, nil, ae)
	}
	defer proxyhttp.Release(buf)
	body := buf.Bytes()

	if st := strings.TrimSpace(r.Header.Get("Wechatpay-Signature-Type")); st != "" && st != notification.SignatureType {
		return h.refuse(w, r, body, &apiError{status: http.StatusUnauthorized, code: codeSignatureTypeUnsupported,
			message: "Wechatpay-Signature-Type " + strconv.Quote(logtext.Truncate(st, 40)) + " is not " + notification.SignatureType})
	}
	keys := h.keys() // one set for the whole callback: a key reload may switch them meanwhile
	if len(keys.byID) == 0 {
		if keys = h.awaitStart(r.Context()); len(keys.byID) == 0 {
			return h.refuse(w, r, body, errNoMerchantKey) // WeChat Pay sends it again later
		}
	}
	signed, err := keys.verifier.Check(r.Header, body)
	if err != nil {
		ve := apiv3.AsVerifyError(err)
		status, reason := http.StatusUnauthorized, "signature verification failed: "+ve.Reason
		switch ve.Code {
		case apiv3.CodeReplayWindowFull:
			status = http.StatusServiceUnavailable // not the sender's fault: WeChat Pay sends it again later
		case apiv3.CodeTimestampExpired:
			if hint := hostClock.clockHint(time.Now(), r.Header, ve); hint != "" {
				reason += "; " + hint
			}
		}
		return h.refuse(w, r, body, &apiError{status: status, code: ve.Code, message: reason})
	}
	hostClock.observe(h.logger, time.Now(), signed)
	n, err := notification.Parse(body)
	if err != nil {
		return h.refuse(w, r, body, refusalOf(err))
	}
	plain, err := n.Decrypt(keys.aead)
	if err != nil {
		return h.refuse(w, r, body, refusalOf(err))
	}
	envelope := n.Envelope(plain)
	merchants := notification.MerchantsOf(plain)
	clear(plain)

	// The records outlive the request: WeChat Pay hanging up after the
	// app's response must not keep the acknowledgement from being recorded.
	storeCtx := context.WithoutCancel(r.Context())
	if h.store != nil {
		unlock, err := h.store.Lock(storeCtx, n.ID)
		if err != nil {
			h.logger.Warn("could not lock the notification's record; forwarding without it (the app may see a concurrent resend too)",
				zap.String("id", n.ID), zap.Error(err))
		}
		defer unlock()
		dup, err := h.store.Acknowledged(storeCtx, n.ID)
		if err != nil {
			// WeChat Pay's resends are limited; a possible duplicate for
			// an idempotent app is better than a lost notification.
			h.logger.Warn("could not read the notification's record; forwarding it (the app may see it twice)",
				zap.String("id", n.ID), zap.Error(err))
		}
		if dup {
			h.metrics.callback(n.EventType, metriclabels.Duplicate)
			h.logNotify("duplicate acknowledged", r, n, 0, start)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}

	status, failure := h.forward(r, n, envelope, merchants, next)
	if failure != "" {
		h.metrics.callback(n.EventType, metriclabels.AppFailed)
		h.logger.Warn("the app did not acknowledge the notification; WeChat Pay will send it again",
			zap.String("id", n.ID), zap.String("event_type", n.EventType),
			zap.String("request_id", requestID(r)), zap.Int("app_status", status), zap.String("reason", failure))
		writeError(w, http.StatusInternalServerError, notifyFail, failure)
		return nil
	}
	if h.store != nil {
		if err := h.store.Record(storeCtx, n.ID); err != nil {
			h.logger.Error("could not record the acknowledged notification; a resend would reach the app again",
				zap.String("id", n.ID), zap.Error(err))
		}
	}
	h.metrics.callback(n.EventType, metriclabels.Delivered)
	h.logNotify("forwarded", r, n, status, start)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refusalOf turns a parse or decrypt error into a refusal.
func refusalOf(err error) *apiError {
	var ne *notification.Error
	if errors.As(err, &ne) {
		return &apiError{status: http.StatusBadRequest, code: ne.Code, message: ne.Reason}
	}
	return &apiError{status: http.StatusBadRequest, code: notification.CodeNotificationMalformed, message: "callback could not be read"}
}

// forward sends the plaintext envelope to the next handler and returns the
// app's status and, unless it acknowledged (2xx), why not.
func (h *NotifyHandler) forward(r *http.Request, n *notification.Notification, envelope []byte, merchants notification.Merchants, next caddyhttp.Handler) (status int, failure string) {
	hdr := r.Header
	for _, k := range signatureHeaders {
		hdr.Del(k)
	}
	keepPassedHeaders(hdr)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(envelope)))
	hdr.Set(notificationIDHeader, n.ID)
	merchants.SetHeaders(hdr)
	if n.EventType != "" {
		hdr.Set(eventTypeHeader, n.EventType)
	} else {
		hdr.Del(eventTypeHeader)
	}
	r.Body = io.NopCloser(bytes.NewReader(envelope))
	r.ContentLength = int64(len(envelope))
	r.TransferEncoding = nil
	// The sender's trailers are not signed either; reverse_proxy would
	// send them after the envelope, chunked.
	r.Trailer = nil
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(envelope)), nil }

	ans := &appResponse{header: http.Header{}}
	err := serveApp(ans, r, next)
	switch {
	case err != nil:
		code := http.StatusBadGateway
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			code = he.StatusCode
		}
		return ans.status, "the app could not be reached or failed (" + strconv.Itoa(code) + ")"
	case ans.status == 0:
		return 0, "nothing answered the callback: put reverse_proxy to the app after wechatpay_notify"
	case ans.status < 200 || ans.status > 299:
		return ans.status, "the app answered " + strconv.Itoa(ans.status)
	}
	return ans.status, ""
}

// keepPassedHeaders removes from a callback's headers all but
// notifyPassedHeaders, first the fields its Connection header names:
// reverse_proxy drops those as hop-by-hop, which would let a sender remove
// the headers the handler sets.
func keepPassedHeaders(hdr http.Header) {
	for _, v := range hdr["Connection"] {
		for _, name := range strings.Split(v, ",") {
			hdr.Del(strings.TrimSpace(name))
		}
	}
	for k := range hdr {
		if !notifyPassedHeaders[k] {
			delete(hdr, k)
		}
	}
}

// serveApp runs the next handler; a response of the app that broke off is
// a 502.
func serveApp(ans *appResponse, r *http.Request, next caddyhttp.Handler) error {
	err := serveNext(ans, r, next)
	if errors.Is(err, errAborted) {
		return caddyhttp.Error(http.StatusBadGateway, errors.New("the app's answer broke off"))
	}
	return err
}

// appResponse records the app's status and discards its body: WeChat Pay
// only learns whether the app acknowledged.
type appResponse struct {
	header http.Header
	status int
}

// Header implements http.ResponseWriter.
func (a *appResponse) Header() http.Header { return a.header }

// WriteHeader implements http.ResponseWriter; 1xx responses are ignored.
func (a *appResponse) WriteHeader(status int) {
	if a.status == 0 && status >= 200 {
		a.status = status
	}
}

// Write implements http.ResponseWriter, discarding the body.
func (a *appResponse) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return len(p), nil
}

// Flush is a no-op.
func (a *appResponse) Flush() {}

// requestID returns the callback's Request-ID header, shortened for a log.
func requestID(r *http.Request) string {
	return logtext.Truncate(strings.TrimSpace(r.Header.Get("Request-ID")), 64)
}

// refuse answers WeChat Pay a JSON FAIL and logs why, with the notification
// id when the body has one (read from the unverified body, for the log
// only) and the Request-ID; never the plaintext or the body.
func (h *NotifyHandler) refuse(w http.ResponseWriter, r *http.Request, body []byte, nr *apiError) error {
	h.metrics.callback("", nr.code)
	if c := h.logger.Check(zapcore.WarnLevel, "callback refused"); c != nil {
		id := ""
		if v := gjson.GetBytes(body, "id"); v.Type == gjson.String {
			id = logtext.Truncate(v.Str, 64)
		}
		c.Write(zap.String("id", id), zap.String("request_id", requestID(r)),
			zap.Int("status", nr.status), zap.String("code", nr.code), zap.String("reason", nr.message), zap.NamedError("cause", nr.cause),
			zap.String("remote_ip", remoteIP(r)))
	}
	writeError(w, nr.status, notifyFail, nr.code+": "+nr.message)
	return nil
}

func (h *NotifyHandler) logNotify(msg string, r *http.Request, n *notification.Notification, appStatus int, start time.Time) {
	if c := h.logger.Check(zapcore.InfoLevel, msg); c != nil {
		c.Write(zap.String("id", n.ID), zap.String("event_type", n.EventType),
			zap.String("request_id", requestID(r)), zap.Int("app_status", appStatus),
			zap.Duration("duration", time.Since(start)))
	}
}

// remoteIP is the client's address as Caddy determined it: the
// connection's, or the one a trusted proxy (the server's trusted_proxies)
// forwarded.
func remoteIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// Interface guards
var (
	_ caddy.Provisioner           = (*NotifyHandler)(nil)
	_ caddy.Validator             = (*NotifyHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*NotifyHandler)(nil)
)

// holderName names a callback handler with keys of its own by the keys
// it verifies under.
func (h *NotifyHandler) holderName() string {
	return "wechatpay_notify handler (" + strings.Join(reportKeys("", h.currentKeys()).WechatPayKeys, ", ") + ")"
}

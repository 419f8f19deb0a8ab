// Package wechatpay is a Caddy HTTP handler that lets any application talk to
// WeChat Pay APIv3 in plain JSON. Placed before reverse_proxy, it encrypts the
// request fields WeChat Pay marks sensitive, sets Wechatpay-Serial and signs
// the request with the merchant key, so that a legacy app only has to change
// its base URL.
package wechatpay

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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
	// MchID is the merchant number (商户号), digits. Required.
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

	// PublicKeyID is the ID of the WeChat Pay public key (微信支付公钥ID),
	// "PUB_KEY_ID_..."; required with PublicKey.
	PublicKeyID string `json:"public_key_id,omitempty"`

	// PublicKey is the WeChat Pay public key (pub_key.pem): a file path or
	// PEM text. Either it or PlatformCertificate is required.
	PublicKey string `json:"public_key,omitempty"`

	// PlatformCertificate lists WeChat Pay platform certificates (平台证书),
	// each a file path or PEM text; each one's serial is read from the
	// certificate. Used when PublicKey is not set.
	PlatformCertificate []string `json:"platform_certificate,omitempty"`

	// Encrypt adds encryption rules to the built-in ones. A rule for a
	// route that already has one adds its fields to it.
	Encrypt []EncryptRule `json:"encrypt,omitempty"`

	// MaxBody is the largest request body accepted, in bytes (after
	// decoding a gzip body). Default: 1 MiB. Larger bodies get 413.
	MaxBody int64 `json:"max_body,omitempty"`

	logger    *zap.Logger
	signer    *RequestSigner
	encrypter *FieldEncrypter
	serial    string // Wechatpay-Serial: the ID or serial of the encryption key
	routes    routeTable
	userAgent string
}

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
	Fields []string `json:"fields"`
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
	h.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	resolve := func(option string, v *string) error {
		out, err := repl.ReplaceOrErr(*v, false, true)
		if err != nil {
			return fmt.Errorf("%s: %w", option, err)
		}
		*v = strings.TrimSpace(out)
		return nil
	}
	for option, v := range map[string]*string{
		"mchid": &h.MchID, "serial_no": &h.SerialNo, "private_key": &h.PrivateKey,
		"public_key_id": &h.PublicKeyID, "public_key": &h.PublicKey,
	} {
		if err := resolve(option, v); err != nil {
			return err
		}
	}
	for i := range h.PlatformCertificate {
		if err := resolve("platform_certificate", &h.PlatformCertificate[i]); err != nil {
			return err
		}
	}
	if err := h.checkOptions(); err != nil {
		return err
	}

	key, err := LoadPrivateKey(h.PrivateKey)
	if err != nil {
		return fmt.Errorf("private_key: %w", err)
	}
	h.signer = &RequestSigner{MchID: h.MchID, SerialNo: strings.ToUpper(h.SerialNo), Key: key}

	encKey, serial, err := h.loadWechatPayKeys()
	if err != nil {
		return err
	}
	h.encrypter = &FieldEncrypter{Key: encKey}
	h.serial = serial

	for _, rule := range builtinRules {
		if err := h.routes.add(rule.Method, rule.Path, rule.Fields); err != nil {
			return fmt.Errorf("built-in rule: %w", err)
		}
	}
	for _, rule := range h.Encrypt {
		if err := h.routes.add(rule.Method, rule.Path, rule.Fields); err != nil {
			return fmt.Errorf("encrypt: %w", err)
		}
	}
	if h.MaxBody == 0 {
		h.MaxBody = defaultMaxBody
	}
	h.userAgent = userAgent()
	return nil
}

// checkOptions checks that the required options are there and well formed.
func (h *Handler) checkOptions() error {
	if h.MchID == "" {
		return errors.New("mchid is required")
	}
	if strings.Trim(h.MchID, "0123456789") != "" {
		return errors.New("mchid must be the merchant number, digits only")
	}
	if h.SerialNo == "" {
		return errors.New("serial_no is required: the serial of the merchant API certificate")
	}
	if strings.Trim(h.SerialNo, "0123456789abcdefABCDEF") != "" {
		return errors.New("serial_no must be hexadecimal: the serial of the merchant API certificate")
	}
	if h.PrivateKey == "" {
		return errors.New("private_key is required: the merchant API private key (apiclient_key.pem)")
	}
	if h.PublicKey == "" && len(h.PlatformCertificate) == 0 {
		return errors.New("public_key (with public_key_id) or platform_certificate is required: the WeChat Pay key that sensitive fields are encrypted with")
	}
	if (h.PublicKey == "") != (h.PublicKeyID == "") {
		return errors.New("public_key_id and public_key go together: give both or neither")
	}
	if h.PublicKeyID != "" && !strings.HasPrefix(h.PublicKeyID, PublicKeyIDPrefix) {
		return fmt.Errorf("public_key_id must start with %s", PublicKeyIDPrefix)
	}
	if h.MaxBody < 0 {
		return errors.New("max_body must not be negative")
	}
	return nil
}

// loadWechatPayKeys loads the WeChat Pay public key and platform
// certificates, and returns the key that sensitive fields are encrypted with
// and the ID or serial that names it: the public key when there is one.
func (h *Handler) loadWechatPayKeys() (*rsa.PublicKey, string, error) {
	var encKey *rsa.PublicKey
	var serial string
	if h.PublicKey != "" {
		key, err := LoadPublicKey(h.PublicKey)
		if err != nil {
			return nil, "", fmt.Errorf("public_key: %w", err)
		}
		encKey, serial = key, h.PublicKeyID
	}
	for i, v := range h.PlatformCertificate {
		cert, certSerial, err := LoadCertificate(v)
		if err != nil {
			return nil, "", fmt.Errorf("platform_certificate #%d: %w", i+1, err)
		}
		if time.Now().After(cert.NotAfter) {
			h.logger.Warn("platform certificate has expired",
				zap.String("serial", certSerial), zap.Time("not_after", cert.NotAfter))
		}
		if encKey == nil {
			encKey, serial = cert.PublicKey.(*rsa.PublicKey), certSerial
		}
	}
	return encKey, serial, nil
}

// Validate checks the provisioned handler.
func (h *Handler) Validate() error {
	if h.signer == nil || h.encrypter == nil {
		return errors.New("wechatpay handler is not provisioned")
	}
	return nil
}

// ServeHTTP encrypts and signs the request, then hands it to the next
// handler, which is reverse_proxy.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := time.Now()
	if ae := checkAPIPath(r.URL); ae != nil {
		return h.refuse(w, r, ae)
	}
	body, ae := readRequestBody(r, h.MaxBody)
	if ae != nil {
		return h.refuse(w, r, ae)
	}
	defer release(body)

	out := body.Bytes()
	rt := h.routes.lookup(r.Method, r.URL.Path)
	encrypted := 0
	if rt != nil {
		var err error
		out, encrypted, err = h.encrypter.EncryptFields(out, rt.fields)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return h.refuse(w, r, paramError(fe))
			}
			return h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: CodeProxyError, message: "encrypting a sensitive field failed"})
		}
	}
	if err := h.signRequest(r, out); err != nil {
		return h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: CodeProxyError, message: "signing the request failed"})
	}

	err := next.ServeHTTP(w, r)
	if c := h.logger.Check(zapcore.InfoLevel, "forwarded"); c != nil {
		c.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("rule", ruleName(rt)), zap.Int("encrypted", encrypted),
			zap.Duration("duration", time.Since(start)))
	}
	return err
}

func ruleName(rt *route) string {
	if rt == nil {
		return ""
	}
	return rt.method + " " + rt.template
}

// refuse answers a JSON error and logs it; nothing goes upstream.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, ae *apiError) error {
	if c := h.logger.Check(zapcore.InfoLevel, "refused"); c != nil {
		c.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", ae.status), zap.String("code", ae.code),
			zap.String("field", ae.field), zap.String("reason", ae.message))
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

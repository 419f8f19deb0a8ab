package wechatpay

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"go.uber.org/zap"
)

// credentials are the key options with their placeholders resolved. They
// live only while the handler is provisioned, apart from the Handler, so
// that a resolved secret never sits in the config struct.
type credentials struct {
	mchid, serialNo, privateKey string
}

// resolveCredentials resolves {env.X}, {file./path} and other global
// placeholders in the merchant's options.
func (h *Handler) resolveCredentials() (*credentials, error) {
	c := &credentials{}
	for _, o := range []struct {
		name string
		src  string
		dst  *string
	}{{"mchid", h.MchID, &c.mchid}, {"serial_no", h.SerialNo, &c.serialNo}, {"private_key", h.PrivateKey, &c.privateKey}} {
		v, err := resolvePlaceholder(o.name, o.src)
		if err != nil {
			return nil, err
		}
		*o.dst = v
	}
	return c, nil
}

// checkOptions checks that the required options are there and well formed.
func (h *Handler) checkOptions(c *credentials) error {
	for _, o := range []struct{ name, raw, resolved string }{
		{"mchid", h.MchID, c.mchid}, {"serial_no", h.SerialNo, c.serialNo}, {"private_key", h.PrivateKey, c.privateKey},
	} {
		if o.resolved == "" && strings.Contains(o.raw, "{") {
			return fmt.Errorf("%s is required, and %s resolved to nothing: is the environment variable or file there?", o.name, o.raw)
		}
	}
	switch {
	case c.mchid == "":
		return errors.New("mchid is required")
	case strings.Trim(c.mchid, "0123456789") != "":
		return errors.New("mchid must be the merchant number, digits only")
	case c.serialNo == "":
		return errors.New("serial_no is required: the serial of the merchant API certificate")
	case strings.Trim(c.serialNo, "0123456789abcdefABCDEF") != "":
		return errors.New("serial_no must be hexadecimal: the serial of the merchant API certificate")
	case c.privateKey == "":
		return errors.New("private_key is required: the merchant API private key (apiclient_key.pem)")
	case h.MaxBody < 0:
		return errors.New("max_body must not be negative")
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
	return nil
}

// loadSigner resolves, checks and loads the merchant options (mchid,
// serial_no, private_key) into the request signer. A merchant of the app
// loads its options through it too.
func (h *Handler) loadSigner() (*apiv3.Signer, error) {
	c, err := h.resolveCredentials()
	if err != nil {
		return nil, err
	}
	if err := h.checkOptions(c); err != nil {
		return nil, err
	}
	warnIfExposed(h.logger, "private_key", h.PrivateKey, c.privateKey)
	rsaKey, err := pemkey.LoadPrivateKey(c.privateKey)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	key, err := rsacrypto.NewPrivateKey(rsaKey)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	return &apiv3.Signer{MchID: c.mchid, SerialNo: strings.ToUpper(c.serialNo), Key: key}, nil
}

// loadInlineKeys loads the handler's own keys into a key set: the signer,
// the encrypter and the verifier. All WeChat Pay keys verify answers; the
// one chosen by wechatpay_serial (default: the public key, else the first
// certificate) encrypts sensitive fields and is named in Wechatpay-Serial.
func (h *Handler) loadInlineKeys() (*keySet, error) {
	signer, err := h.loadSigner()
	if err != nil {
		return nil, err
	}
	trusted, err := h.WechatPayKeys.load(h.logger)
	if err != nil {
		return nil, err
	}
	return newKeySet(signer, trusted.byID, trusted.chosen), nil
}

// warnIfExposed logs a warning when a key file can be read by its group or
// by others. raw is the option as configured, resolved its value: the file
// is the value itself when it is a path, or the path of a {file./path}
// placeholder.
func warnIfExposed(logger *zap.Logger, option, raw, resolved string) {
	path := ""
	if inner, ok := strings.CutPrefix(raw, "{file."); ok && strings.HasSuffix(inner, "}") && strings.Count(raw, "{") == 1 {
		path = strings.TrimSuffix(inner, "}")
	} else if !strings.Contains(resolved, "-----BEGIN") {
		path = resolved
	}
	if path == "" {
		return
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm()&0o077 == 0 {
		return
	}
	logger.Warn("key file is readable by group or others; restrict it with chmod 600",
		zap.String("option", option), zap.String("file", path), zap.String("mode", info.Mode().Perm().String()))
}

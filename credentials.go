package wechatpay

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// credentials are the key options with their placeholders resolved. They
// live only while the handler is provisioned, apart from the Handler, so
// that a resolved secret never sits in the config struct.
type credentials struct {
	mchid, serialNo, privateKey, publicKeyID, publicKey, wechatpaySerial string
	platformCertificates                                                 []string
}

// resolveCredentials resolves {env.X}, {file./path} and other global
// placeholders in the key options.
func (h *Handler) resolveCredentials() (*credentials, error) {
	repl := caddy.NewReplacer()
	var err error
	resolve := func(option, v string) string {
		if err != nil {
			return ""
		}
		out, rerr := repl.ReplaceOrErr(v, false, true)
		if rerr != nil {
			err = fmt.Errorf("%s: %w", option, rerr)
		}
		return strings.TrimSpace(out)
	}
	c := &credentials{
		mchid:           resolve("mchid", h.MchID),
		serialNo:        resolve("serial_no", h.SerialNo),
		privateKey:      resolve("private_key", h.PrivateKey),
		publicKeyID:     resolve("public_key_id", h.PublicKeyID),
		publicKey:       resolve("public_key", h.PublicKey),
		wechatpaySerial: resolve("wechatpay_serial", h.WechatpaySerial),
	}
	for _, v := range h.PlatformCertificate {
		c.platformCertificates = append(c.platformCertificates, resolve("platform_certificate", v))
	}
	return c, err
}

// checkOptions checks that the required options are there and well formed.
func (h *Handler) checkOptions(c *credentials) error {
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
	case c.publicKey == "" && len(c.platformCertificates) == 0:
		return errors.New("public_key (with public_key_id) or platform_certificate is required: the WeChat Pay key that sensitive fields are encrypted with")
	case (c.publicKey == "") != (c.publicKeyID == ""):
		return errors.New("public_key_id and public_key go together: give both or neither")
	case c.publicKeyID != "" && !strings.HasPrefix(c.publicKeyID, PublicKeyIDPrefix):
		return fmt.Errorf("public_key_id must start with %s", PublicKeyIDPrefix)
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

// loadKeys loads the merchant key and the WeChat Pay keys and sets up the
// signer, the encrypter and the verifier. All WeChat Pay keys verify
// answers; the one chosen by wechatpay_serial (default: the public key, else
// the first certificate) encrypts sensitive fields and is named in
// Wechatpay-Serial. It returns the merchant key.
func (h *Handler) loadKeys(c *credentials) (*rsa.PrivateKey, error) {
	h.warnIfExposed("private_key", h.PrivateKey, c.privateKey)
	key, err := LoadPrivateKey(c.privateKey)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	h.signer = &RequestSigner{MchID: c.mchid, SerialNo: strings.ToUpper(c.serialNo), Key: key}

	keys := map[string]*rsa.PublicKey{}
	var order []string
	if c.publicKey != "" {
		pub, err := LoadPublicKey(c.publicKey)
		if err != nil {
			return nil, fmt.Errorf("public_key: %w", err)
		}
		keys[c.publicKeyID] = pub
		order = append(order, c.publicKeyID)
	}
	for i, v := range c.platformCertificates {
		cert, serial, err := LoadCertificate(v)
		if err != nil {
			return nil, fmt.Errorf("platform_certificate #%d: %w", i+1, err)
		}
		if _, dup := keys[serial]; dup {
			return nil, fmt.Errorf("platform_certificate #%d: serial %s given twice", i+1, serial)
		}
		if time.Now().After(cert.NotAfter) {
			h.logger.Warn("platform certificate has expired",
				zap.String("serial", serial), zap.Time("not_after", cert.NotAfter))
		}
		keys[serial] = cert.PublicKey.(*rsa.PublicKey)
		order = append(order, serial)
	}
	h.serial = order[0]
	if c.wechatpaySerial != "" {
		if keys[c.wechatpaySerial] == nil {
			shown := c.wechatpaySerial
			if len(shown) > 64 || strings.Trim(strings.TrimPrefix(shown, PublicKeyIDPrefix), "0123456789abcdefABCDEF") != "" {
				shown = "the value" // not an ID or a serial: it could be anything, even a key
			}
			return nil, fmt.Errorf("wechatpay_serial: %s is neither public_key_id nor the serial of a platform_certificate (known: %s)",
				shown, strings.Join(order, ", "))
		}
		h.serial = c.wechatpaySerial
	}
	h.encrypter = &FieldEncrypter{Key: keys[h.serial]}
	h.verifier = NewResponseVerifier(keys)
	return key, nil
}

// warnIfExposed logs a warning when a key file can be read by its group or
// by others. raw is the option as configured, resolved its value: the file
// is the value itself when it is a path, or the path of a {file./path}
// placeholder.
func (h *Handler) warnIfExposed(option, raw, resolved string) {
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
	h.logger.Warn("key file is readable by group or others; restrict it with chmod 600",
		zap.String("option", option), zap.String("file", path), zap.String("mode", info.Mode().Perm().String()))
}

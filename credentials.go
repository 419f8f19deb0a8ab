package wechatpay

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// keyOptions are one merchant's key options as configured, whoever writes
// them: a merchant of the wechatpay app, or a handler with keys of its own.
// Each load method resolves placeholders into values that live only while
// the keys are loaded, never in a config struct, and names the option at
// fault without quoting key material.
type keyOptions struct {
	mchid, serialNo, privateKey string // the merchant key that signs
	apiv3Key                    string // decrypts callbacks and certificate downloads
	merchantCert                string // merchant_certificate, optional: checked against the signer
	WechatPayKeys
}

// loadSigner resolves, checks and loads mchid, serial_no and private_key
// into the request signer.
func (o keyOptions) loadSigner(logger *zap.Logger) (*apiv3.Signer, error) {
	var mchid, serialNo, privateKey string
	for _, opt := range []struct {
		name, raw string
		dst       *string
	}{{"mchid", o.mchid, &mchid}, {"serial_no", o.serialNo, &serialNo}, {"private_key", o.privateKey, &privateKey}} {
		v, err := resolvePlaceholder(opt.name, opt.raw)
		if err != nil {
			return nil, err
		}
		if v == "" && strings.Contains(opt.raw, "{") {
			return nil, fmt.Errorf("%s is required, and %s resolved to nothing: is the environment variable or file there?", opt.name, opt.raw)
		}
		*opt.dst = v
	}
	switch {
	case mchid == "":
		return nil, errors.New("mchid is required")
	case strings.Trim(mchid, "0123456789") != "":
		return nil, errors.New("mchid must be the merchant number, digits only")
	case serialNo == "":
		return nil, errors.New("serial_no is required: the serial of the merchant API certificate")
	case strings.Trim(serialNo, "0123456789abcdefABCDEF") != "":
		return nil, errors.New("serial_no must be hexadecimal: the serial of the merchant API certificate")
	case privateKey == "":
		return nil, errors.New("private_key is required: the merchant API private key (apiclient_key.pem)")
	}
	warnIfExposed(logger, "private_key", o.privateKey, privateKey)
	reportRSABackend(logger)
	rsaKey, err := pemkey.LoadPrivateKey(privateKey)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	key, err := rsacrypto.NewPrivateKey(rsaKey)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	return &apiv3.Signer{MchID: mchid, SerialNo: strings.ToUpper(serialNo), Key: key}, nil
}

// loadAPIv3Key resolves and checks apiv3_key; nil when none is configured.
// The key is a secret: never log it.
func (o keyOptions) loadAPIv3Key(logger *zap.Logger) ([]byte, error) {
	v, err := resolvePlaceholder("apiv3_key", o.apiv3Key)
	if err != nil || v == "" {
		return nil, err
	}
	if len(v) != apiv3.APIv3KeySize {
		return nil, fmt.Errorf("apiv3_key must be %d bytes (the APIv3 key set in the merchant platform), got %d bytes", apiv3.APIv3KeySize, len(v))
	}
	if !strings.Contains(o.apiv3Key, "{") {
		logger.Warn("apiv3_key is written literally in the configuration, which Caddy's admin API serves and autosave.json keeps on disk; use {env.X} or {file./path}")
	}
	// The key is never a path itself: only a {file./path} placeholder
	// names a file, so the key text is never looked up (or logged) as one.
	warnIfExposed(logger, "apiv3_key", o.apiv3Key, "")
	return []byte(v), nil
}

// loadAPIv3AEAD loads apiv3_key as loadAPIv3Key does, with its
// AES-256-GCM; both nil when none is configured.
func (o keyOptions) loadAPIv3AEAD(logger *zap.Logger) ([]byte, cipher.AEAD, error) {
	key, err := o.loadAPIv3Key(logger)
	if err != nil || key == nil {
		return nil, nil, err
	}
	aead, err := apiv3.NewAEAD(key)
	if err != nil {
		return nil, nil, fmt.Errorf("apiv3_key: %w", err)
	}
	return key, aead, nil
}

// loadKeySet loads the keys of a wechatpay handler with keys of its own:
// the signer and the WeChat Pay keys. All WeChat Pay keys verify responses;
// the one wechatpay_serial chooses (default: the public key, else the first
// certificate) encrypts sensitive fields and is named in Wechatpay-Serial.
func (o keyOptions) loadKeySet(logger *zap.Logger) (*keySet, error) {
	signer, err := o.loadSigner(logger)
	if err != nil {
		return nil, err
	}
	cert, err := o.loadMerchantCertificate(logger, signer)
	if err != nil {
		return nil, err
	}
	trusted, err := o.WechatPayKeys.load(logger)
	if err != nil {
		return nil, err
	}
	keys := newKeySet(signer, trusted.byID, trusted.chosen)
	keys.merchantCert, keys.notAfter = cert, trusted.notAfter
	return keys, nil
}

// warnIfExposed logs a warning when a key file can be read by its group or
// by others. raw is the option as configured; the file is the path of a
// {file./path} placeholder, or else pathValue, the resolved value of an
// option that takes a path (private_key), when it is not PEM text. An option
// whose value is never a path (apiv3_key) passes "".
func warnIfExposed(logger *zap.Logger, option, raw, pathValue string) {
	path := ""
	if inner, ok := strings.CutPrefix(raw, "{file."); ok && strings.HasSuffix(inner, "}") && strings.Count(raw, "{") == 1 {
		path = strings.TrimSuffix(inner, "}")
	} else if !strings.Contains(pathValue, "-----BEGIN") {
		path = pathValue
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

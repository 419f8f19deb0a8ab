package wechatpay

import (
	"crypto/cipher"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/sensitive"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

// WechatPayKeys are the WeChat Pay keys a handler trusts: the WeChat Pay
// public key, platform certificates, or both during a migration. The
// wechatpay and wechatpay_notify handlers embed it, so these options are
// spelled the same in both, in JSON and in the Caddyfile.
type WechatPayKeys struct {
	// PublicKeyID is the ID of the WeChat Pay public key (微信支付公钥ID),
	// "PUB_KEY_ID_..."; required with PublicKey.
	PublicKeyID string `json:"public_key_id,omitempty"`

	// PublicKey is the WeChat Pay public key (pub_key.pem): a file path or
	// PEM text. Either it or PlatformCertificate is required.
	PublicKey string `json:"public_key,omitempty"`

	// PlatformCertificate lists WeChat Pay platform certificates (平台证书),
	// each a file path or PEM text; each one's serial is read from the
	// certificate.
	PlatformCertificate []string `json:"platform_certificate,omitempty"`

	// WechatPaySerial chooses, when both a public key and platform
	// certificates are configured, which one encrypts sensitive fields and
	// is named in the Wechatpay-Serial request header: a public key ID or a
	// certificate serial. Default: the public key when there is one, else
	// the first platform certificate. Signatures verify under any known key.
	WechatPaySerial string `json:"wechatpay_serial,omitempty"`
}

// trustedKeys are loaded WeChat Pay keys.
type trustedKeys struct {
	byID   map[string]*rsa.PublicKey // by public key ID or certificate serial
	order  []string                  // as configured
	chosen string                    // the ID or serial that encrypts
	// notAfter is when each platform certificate expires, by serial.
	notAfter map[string]time.Time
}

// resolvePlaceholder resolves {env.X}, {file./path} and the other global
// placeholders in one option value.
func resolvePlaceholder(option, v string) (string, error) {
	out, err := caddy.NewReplacer().ReplaceOrErr(v, false, true)
	if err != nil {
		return "", fmt.Errorf("%s: %w", option, err)
	}
	return strings.TrimSpace(out), nil
}

// load resolves and loads the keys. Resolved values stay local, never in
// the config struct; errors name the option and never quote key material.
func (k *WechatPayKeys) load(logger *zap.Logger) (*trustedKeys, error) {
	id, err := resolvePlaceholder("public_key_id", k.PublicKeyID)
	if err != nil {
		return nil, err
	}
	pubText, err := resolvePlaceholder("public_key", k.PublicKey)
	if err != nil {
		return nil, err
	}
	switch {
	case pubText == "" && len(k.PlatformCertificate) == 0:
		return nil, errors.New("public_key (with public_key_id) or platform_certificate is required: the WeChat Pay key that sensitive fields are encrypted with and signatures verified with")
	case (pubText == "") != (id == ""):
		return nil, errors.New("public_key_id and public_key go together: give both or neither")
	case id != "" && !strings.HasPrefix(id, apiv3.PublicKeyIDPrefix):
		return nil, fmt.Errorf("public_key_id must start with %s", apiv3.PublicKeyIDPrefix)
	}

	t := &trustedKeys{byID: map[string]*rsa.PublicKey{}, notAfter: map[string]time.Time{}}
	if pubText != "" {
		pub, err := pemkey.LoadPublicKey(pubText)
		if err != nil {
			return nil, fmt.Errorf("public_key: %w", err)
		}
		t.byID[id] = pub
		t.order = append(t.order, id)
	}
	for i, v := range k.PlatformCertificate {
		text, err := resolvePlaceholder("platform_certificate", v)
		if err != nil {
			return nil, err
		}
		cert, serial, err := pemkey.LoadCertificate(text)
		if err != nil {
			return nil, fmt.Errorf("platform_certificate #%d: %w", i+1, err)
		}
		if _, dup := t.byID[serial]; dup {
			return nil, fmt.Errorf("platform_certificate #%d: serial %s given twice", i+1, serial)
		}
		if time.Now().After(cert.NotAfter) {
			logger.Warn("platform certificate has expired",
				zap.String("serial", serial), zap.Time("not_after", cert.NotAfter))
		}
		t.byID[serial] = cert.PublicKey.(*rsa.PublicKey)
		t.notAfter[serial] = cert.NotAfter
		t.order = append(t.order, serial)
	}

	t.chosen = t.order[0]
	chosen, err := resolvePlaceholder("wechatpay_serial", k.WechatPaySerial)
	if err != nil {
		return nil, err
	}
	if chosen != "" {
		if t.byID[chosen] == nil {
			shown := chosen
			if len(shown) > 64 || strings.Trim(strings.TrimPrefix(shown, apiv3.PublicKeyIDPrefix), "0123456789abcdefABCDEF") != "" {
				shown = "the value" // not an ID or a serial: it could be anything, even a key
			}
			return nil, fmt.Errorf("wechatpay_serial: %s is neither public_key_id nor the serial of a platform_certificate (known: %s)",
				shown, strings.Join(t.order, ", "))
		}
		t.chosen = chosen
	}
	return t, nil
}

// unmarshalOption parses one of the WeChat Pay key options from a Caddyfile
// block; handled is false for any other option.
func (k *WechatPayKeys) unmarshalOption(d *caddyfile.Dispenser, option string, seen map[string]bool) (handled bool, err error) {
	var dst *string
	switch option {
	case "public_key_id":
		dst = &k.PublicKeyID
	case "public_key":
		dst = &k.PublicKey
	case "wechatpay_serial":
		dst = &k.WechatPaySerial
	case "platform_certificate":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		k.PlatformCertificate = append(k.PlatformCertificate, d.Val())
		if d.NextArg() {
			return true, d.ArgErr()
		}
		return true, nil
	default:
		return false, nil
	}
	*dst, err = singleValue(d, option, seen)
	return true, err
}

// keySet is the set of keys in use at one moment: the merchant's signing
// key, every trusted WeChat Pay key (by public key ID or certificate serial)
// and the verifier over them, and the key that encrypts with the ID or
// serial named in Wechatpay-Serial. A handler reads it once per request, so
// a request never mixes keys from before and after a change: a merchant of
// the app publishes a new one whenever its certificates change, and a key
// reload through the admin API publishes new ones everywhere.
type keySet struct {
	signer    *apiv3.Signer             // nil in wechatpay_notify, which signs nothing
	decrypter *sensitive.Decrypter      // response fields, under the merchant key; nil without signer
	byID      map[string]*rsa.PublicKey // every trusted key
	verifier  *apiv3.Verifier           // verifies under byID
	encrypter *sensitive.Encrypter      // nil when no key can encrypt
	serial    string                    // Wechatpay-Serial: the encrypting key

	// For the metrics of a handler with keys of its own (a merchant of
	// the app keeps these itself): the expiry of each configured platform
	// certificate, by serial.
	notAfter map[string]time.Time
	// merchantCert is the merchant API certificate, if named: for the
	// metrics of a handler with keys of its own, and for the keys report
	// of the admin API (of a merchant of the app too).
	merchantCert *merchantCertificate
	// apiv3Key and aead are the APIv3 key and its AES-256-GCM, which open
	// callbacks and certificate downloads; nil without an APIv3 key. A
	// secret: never log or report it.
	apiv3Key []byte
	aead     cipher.AEAD
}

// newKeySet builds the key set that signs with signer (none when nil),
// trusts byID and encrypts with the key named serial (none when serial is
// empty).
func newKeySet(signer *apiv3.Signer, byID map[string]*rsa.PublicKey, serial string) *keySet {
	k := &keySet{signer: signer, byID: byID, serial: serial, verifier: apiv3.NewVerifier(byID)}
	k.verifier.Window = replayWindow
	if signer != nil {
		k.decrypter = sensitive.NewDecrypter(signer.Key)
	}
	if serial != "" {
		k.encrypter = sensitive.NewEncrypter(byID[serial])
	}
	return k
}

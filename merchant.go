package wechatpay

import (
	"crypto/cipher"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// URLList is the value of certificates_url: URLs tried in order. In JSON it
// is an array of strings or, as before it became a list, one string; a
// list of one is written as a string, so a configuration adapted from a
// Caddyfile with one URL stays as it was.
type URLList []string

// UnmarshalJSON reads a string or an array of strings.
func (l *URLList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = nil
		if one != "" {
			*l = URLList{one}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("certificates_url: want a URL or an array of URLs, got %s", logtext.Truncate(string(b), 80))
	}
	*l = list
	return nil
}

// MarshalJSON writes a list of one as a string, longer ones as an array.
func (l URLList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}

// Merchant is one merchant's credentials, configured once in the global
// wechatpay app and used by every handler that names it with `merchant`.
// For a merchant with apiv3_key and no platform_certificate, the app
// downloads the platform certificates from WeChat Pay, keeps them in
// Caddy's storage and refreshes them in the background.
type Merchant struct {
	// MchID is the merchant number (商户号), digits. Required.
	MchID string `json:"mchid,omitempty"`

	// SerialNo is the serial of the merchant API certificate, hexadecimal.
	// Required.
	SerialNo string `json:"serial_no,omitempty"`

	// PrivateKey is the merchant API private key: a file path or PEM text
	// (so {env.X} and {file./path} work). Required.
	PrivateKey string `json:"private_key,omitempty"`

	// MerchantCertificate is the merchant API certificate
	// (apiclient_cert.pem): a file path or PEM text. Optional; when given,
	// it must be the certificate of PrivateKey with the serial SerialNo
	// (checked at start and at each key reload), and its expiry is
	// reported in the metrics and warned of 30 days ahead.
	MerchantCertificate string `json:"merchant_certificate,omitempty"`

	// APIv3Key is the APIv3 key (APIv3密钥), 32 bytes once placeholders
	// are resolved: write {env.X} or {file./path}, never the key itself.
	// It decrypts downloaded platform certificates (and callbacks).
	APIv3Key string `json:"apiv3_key,omitempty"`

	// APIv2Key is the APIv2 key (API密钥, 32 characters), as a placeholder
	// only ({env.X} or {file./path}): handlers naming this merchant then
	// sign its front-end coupon and payscore forms (see the handler's
	// apiv2_key).
	APIv2Key string `json:"apiv2_key,omitempty"`

	// WechatPayKeys are the WeChat Pay public key and/or static platform
	// certificates. A merchant with apiv3_key may leave them out: its
	// platform certificates are then downloaded.
	WechatPayKeys

	// DownloadCertificates turns the download of platform certificates
	// off when false. Default: on for a merchant with apiv3_key and no
	// platform_certificate.
	DownloadCertificates *bool `json:"download_certificates,omitempty"`

	// CertificatesURL are the base URLs platform certificates are
	// downloaded from (the path /v3/certificates is added), tried in order
	// at each download: one that cannot be reached, times out or answers
	// with a 5xx status passes the download to the next; any other answer
	// (a refusal from WeChat Pay included) is final. An array of strings,
	// or one string. Default: ["https://api.mch.weixin.qq.com",
	// "https://api2.mch.weixin.qq.com"], WeChat Pay's domain and its
	// backup.
	CertificatesURL URLList `json:"certificates_url,omitempty"`

	// RefreshInterval is how often platform certificates are downloaded
	// again. Default: 6h.
	RefreshInterval caddy.Duration `json:"refresh_interval,omitempty"`

	name     string
	logger   *zap.Logger
	apiv3Key []byte       // guarded by mu, changed only by a key reload
	aead     cipher.AEAD  // apiv3Key's; guarded by mu
	certs    *certManager // nil when nothing is downloaded
	// started is closed once startCertificates has run, at the app's
	// Start: handlers wait for it rather than answer 503 at once.
	started   chan struct{}
	startOnce sync.Once
	keys      atomic.Pointer[keySet] // published from the three below
	now       func() time.Time       // time.Now; tests move it

	mu         sync.Mutex                  // guards signer, static and downloaded
	signer     *apiv3.Signer               // changed only by a key reload
	static     *trustedKeys                // configured keys; empty when all are downloaded
	downloaded []*platformcert.Certificate // as last published

	// merchantCert is merchant_certificate as loaded, nil without it;
	// guarded by mu, changed only by a key reload.
	merchantCert *merchantCertificate
	metrics      *merchantMetrics // nil without a metrics registry
	apiv2Key     []byte           // apiv2_key resolved; nil without it. Never log it.
}

// currentSigner returns the request signer of the merchant in use now.
func (m *Merchant) currentSigner() *apiv3.Signer { return m.currentKeys().signer }

// platformCertificates returns the downloaded platform certificates in use,
// newest first; nil when none are downloaded.
func (m *Merchant) platformCertificates() []*platformcert.Certificate {
	if m.certs == nil {
		return nil
	}
	return m.certs.certificates()
}

// currentKeys returns the keys in use.
func (m *Merchant) currentKeys() *keySet { return m.keys.Load() }

// apiv3 returns the APIv3 key bytes, or nil when none is configured. It is
// a secret: never log it.
func (m *Merchant) apiv3() []byte { return m.currentKeys().apiv3Key }

// downloads reports whether the merchant's platform certificates are
// downloaded.
func (m *Merchant) downloads() bool {
	return m.apiv3Key != nil && len(m.PlatformCertificate) == 0 &&
		(m.DownloadCertificates == nil || *m.DownloadCertificates)
}

// checkName checks a merchant name: letters, digits, '-', '_' and '.'.
func checkName(name string) error {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		return fmt.Errorf("merchant name %q: use letters, digits, '-', '_' and '.'", name)
	}
	return nil
}

// publish makes the configured keys plus downloaded certificates the keys
// in use. The configured choice (public key, or wechatpay_serial) encrypts;
// without one the newest certificate in effect does.
func (m *Merchant) publish(downloaded []*platformcert.Certificate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.downloaded = downloaded
	m.publishLocked()
}

// publishLocked publishes the keys from the merchant's signer, static and
// downloaded, with m.mu held.
func (m *Merchant) publishLocked() {
	byID := make(map[string]*rsa.PublicKey, len(m.static.byID)+len(m.downloaded))
	for id, key := range m.static.byID {
		byID[id] = key
	}
	for _, c := range m.downloaded {
		if _, configured := byID[c.Serial]; !configured {
			byID[c.Serial] = c.Key()
		}
	}
	serial := m.static.chosen
	if m.static.empty() {
		serial = ""
		if c := platformcert.NewestEffective(m.now(), m.downloaded); c != nil {
			serial = c.Serial
		}
	}
	keys := newKeySet(m.signer, byID, serial)
	keys.merchantCert = m.merchantCert
	keys.apiv3Key, keys.aead = m.apiv3Key, m.aead
	m.keys.Store(keys)
}

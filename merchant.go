package wechatpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// defaultCertificatesURL is where platform certificates are downloaded
// from: WeChat Pay's API server.
const defaultCertificatesURL = "https://api.mch.weixin.qq.com"

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

	// WechatPayKeys are the WeChat Pay public key and/or static platform
	// certificates. A merchant with apiv3_key may leave them out: its
	// platform certificates are then downloaded.
	WechatPayKeys

	// DownloadCertificates turns the download of platform certificates
	// off when false. Default: on for a merchant with apiv3_key and no
	// platform_certificate.
	DownloadCertificates *bool `json:"download_certificates,omitempty"`

	// CertificatesURL is the base URL platform certificates are downloaded
	// from (the path /v3/certificates is added). Default:
	// https://api.mch.weixin.qq.com.
	CertificatesURL string `json:"certificates_url,omitempty"`

	// RefreshInterval is how often platform certificates are downloaded
	// again. Default: 6h.
	RefreshInterval caddy.Duration `json:"refresh_interval,omitempty"`

	name     string
	logger   *zap.Logger
	apiv3Key []byte
	certs    *certManager           // nil when nothing is downloaded
	keys     atomic.Pointer[keySet] // published from the three below
	now      func() time.Time       // time.Now; tests move it
	// deferRefresh leaves the first refresh to the caller (the CLI).
	deferRefresh bool

	mu         sync.Mutex                  // guards signer, static and downloaded
	signer     *apiv3.Signer               // changed only by a key reload
	static     *trustedKeys                // configured keys; empty when all are downloaded
	downloaded []*platformcert.Certificate // as last published

	// merchantCert is merchant_certificate as loaded, nil without it;
	// guarded by mu, changed only by a key reload.
	merchantCert *merchantCertificate
	metrics      *merchantMetrics // nil without a metrics registry
}

// currentSigner returns the request signer of the merchant in use now.
func (m *Merchant) currentSigner() *apiv3.Signer { return m.currentKeys().signer }

// currentVerifier returns a verifier trusting the merchant's keys as they
// are now: call it for each response or callback, since downloaded
// certificates change.
func (m *Merchant) currentVerifier() *apiv3.Verifier { return m.currentKeys().verifier }

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
func (m *Merchant) apiv3() []byte { return m.apiv3Key }

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

// provision resolves and loads the merchant's keys. It loads downloaded
// certificates from storage, and downloads them when the stored set is
// missing or stale (an error only when the merchant then has no WeChat Pay
// key at all). Errors name the option and never quote key material.
func (m *Merchant) provision(ctx context.Context, name string, storage certmagic.Storage, logger *zap.Logger) error {
	m.name, m.logger = name, logger
	if m.now == nil {
		m.now = time.Now
	}
	if m.RefreshInterval < 0 || m.RefreshInterval != 0 && time.Duration(m.RefreshInterval) < time.Minute {
		return errors.New("refresh_interval must be at least 1m: WeChat Pay limits how often certificates may be asked for")
	}
	signer, err := m.keyOptions().loadSigner(m.logger)
	if err != nil {
		return err
	}
	m.signer = signer
	if m.merchantCert, err = m.keyOptions().loadMerchantCertificate(m.logger, signer); err != nil {
		return err
	}
	if m.apiv3Key, err = m.keyOptions().loadAPIv3Key(m.logger); err != nil {
		return err
	}
	if m.static, err = m.loadStatic(); err != nil {
		return err
	}
	m.publish(nil)
	if m.DownloadCertificates != nil && *m.DownloadCertificates {
		switch {
		case m.apiv3Key == nil:
			return errors.New("download_certificates on needs apiv3_key, which decrypts the downloaded certificates")
		case len(m.PlatformCertificate) > 0:
			return errors.New("download_certificates on and platform_certificate exclude each other: downloaded certificates replace the configured ones")
		}
	}
	if !m.downloads() {
		if m.static.empty() {
			return errors.New("public_key (with public_key_id) or platform_certificate is required, or apiv3_key to download platform certificates")
		}
		return nil
	}
	return m.startCertificates(ctx, storage)
}

// keyOptions returns the merchant's key options.
func (m *Merchant) keyOptions() keyOptions {
	return keyOptions{mchid: m.MchID, serialNo: m.SerialNo, privateKey: m.PrivateKey, apiv3Key: m.APIv3Key,
		merchantCert: m.MerchantCertificate, WechatPayKeys: m.WechatPayKeys}
}

// loadStatic loads the configured WeChat Pay keys; none is fine when
// platform certificates are downloaded.
func (m *Merchant) loadStatic() (*trustedKeys, error) {
	k := m.WechatPayKeys
	if k.PublicKey == "" && k.PublicKeyID == "" && len(k.PlatformCertificate) == 0 {
		if k.WechatPaySerial != "" {
			return nil, errors.New("wechatpay_serial needs public_key or platform_certificate")
		}
		return &trustedKeys{byID: map[string]*rsa.PublicKey{}}, nil
	}
	return k.load(m.logger)
}

// staticKeys returns the configured WeChat Pay keys in use now.
func (m *Merchant) staticKeys() *trustedKeys {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.static
}

func (t *trustedKeys) empty() bool { return t == nil || len(t.order) == 0 }

// startCertificates sets up the certificate manager and brings the
// certificates up to date.
func (m *Merchant) startCertificates(ctx context.Context, storage certmagic.Storage) error {
	base := m.CertificatesURL
	if base == "" {
		base = defaultCertificatesURL
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + platformcert.Path)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("certificates_url: %q is not an http(s) URL", base)
	}
	interval := time.Duration(m.RefreshInterval)
	if interval == 0 {
		interval = defaultRefreshInterval
	}
	aead, err := apiv3.NewAEAD(m.apiv3Key) // the same AES-256-GCM as callbacks
	if err != nil {
		return fmt.Errorf("apiv3_key: %w", err)
	}
	client := &http.Client{Timeout: downloadTimeout}
	m.certs = &certManager{
		mchid:     m.signer.MchID, // a key reload never changes it
		macKey:    storageMACKey(m.apiv3Key),
		publicKey: !m.static.empty(),
		storage:   storage,
		interval:  interval,
		now:       m.now,
		logger:    m.logger,
		publish:   m.publish,
		metrics:   m.metrics,
	}
	m.certs.download = func(ctx context.Context, known []*platformcert.Certificate) ([]*platformcert.Certificate, error) {
		static := m.staticKeys()
		d := &platformcert.Download{Client: client, URL: u.String(), UserAgent: userAgent(), Signer: m.currentSigner(),
			AEAD: aead, Now: m.certs.now, Anchors: static.byID, Known: known}
		switch {
		case !static.empty():
			d.Serial = static.chosen
		case len(known) > 0:
			d.Serial = known[0].Serial
		}
		return d.Run(ctx)
	}
	if m.deferRefresh {
		return nil
	}
	res, err := m.certs.refresh(ctx, false)
	if err == nil && m.currentKeys().encrypter == nil && res == refreshNotFound {
		return errors.New("WeChat Pay has no platform certificate for this merchant (it uses the WeChat Pay public key): configure public_key_id and public_key")
	}
	if err == nil {
		return nil
	}
	if m.currentKeys().encrypter == nil {
		return fmt.Errorf("downloading platform certificates from %s: %w (and no WeChat Pay key is configured or stored)", u.Host, err)
	}
	m.certs.startFailed = true
	m.logger.Warn("downloading platform certificates failed; using the keys configured or stored, retrying in the background",
		zap.Error(err))
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
	m.keys.Store(newKeySet(m.signer, byID, serial))
}

package wechatpay

import (
	"crypto/rsa"
	"errors"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// provision resolves and loads the merchant's keys and sets up the
// download of its platform certificates. It reads no storage and makes no
// network call: startCertificates does, from the app's Start, so that
// `caddy validate` has no side effects. Errors name the option and never
// quote key material.
func (m *Merchant) provision(name string, storage certmagic.Storage, logger *zap.Logger) error {
	m.name, m.logger = name, logger
	m.started = make(chan struct{})
	if m.now == nil {
		m.now = time.Now
	}
	if m.RefreshInterval < 0 || m.RefreshInterval != 0 && time.Duration(m.RefreshInterval) < time.Minute {
		return errors.New("refresh_interval must be at least 1m: WeChat Pay limits how often certificates may be asked for")
	}
	var err error
	if m.signer, m.merchantCert, m.static, err = m.loadKeys(); err != nil {
		return err
	}
	if m.apiv3Key, m.aead, err = m.keyOptions().loadAPIv3AEAD(m.logger); err != nil {
		return err
	}
	if m.apiv2Key, err = loadAPIv2Key(m.logger, m.APIv2Key); err != nil {
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
	return m.setUpCertificates(storage)
}

// keyOptions returns the merchant's key options.
func (m *Merchant) keyOptions() keyOptions {
	return keyOptions{mchid: m.MchID, serialNo: m.SerialNo, privateKey: m.PrivateKey, apiv3Key: m.APIv3Key,
		merchantCert: m.MerchantCertificate, WechatPayKeys: m.WechatPayKeys}
}

// loadKeys loads what a key reload loads again: the signer, the merchant
// certificate and the configured WeChat Pay keys.
func (m *Merchant) loadKeys() (*apiv3.Signer, *merchantCertificate, *trustedKeys, error) {
	opts := m.keyOptions()
	signer, err := opts.loadSigner(m.logger)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := opts.loadMerchantCertificate(m.logger, signer)
	if err != nil {
		return nil, nil, nil, err
	}
	static, err := m.loadStatic()
	if err != nil {
		return nil, nil, nil, err
	}
	return signer, cert, static, nil
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

func (m *Merchant) holderName() string { return "merchant " + m.name }

func (m *Merchant) prepareReload() (func(), error) {
	signer, cert, static, err := m.loadKeys()
	if err != nil {
		return nil, err
	}
	if signer.MchID != m.currentSigner().MchID {
		return nil, errMchIDChanged
	}
	switch {
	case m.certs == nil && static.empty():
		return nil, errors.New("public_key (with public_key_id) or platform_certificate is required")
	case m.certs != nil && static.empty() != m.staticKeys().empty():
		return nil, errors.New("a WeChat Pay key was added to or removed from a merchant whose platform certificates are downloaded: that changes only with a configuration reload")
	}
	apiv3, err := m.loadAPIv3Reload()
	if err != nil {
		return nil, err
	}
	apiv2, err := loadAPIv2Key(m.logger, m.APIv2Key)
	if err != nil {
		return nil, err
	}
	return func() {
		apiv3.commitCertificates(m)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.signer, m.merchantCert, m.static = signer, cert, static
		m.apiv3Key, m.aead = apiv3.key, apiv3.aead
		m.apiv2Key = apiv2
		if m.certs != nil {
			m.downloaded = m.certs.certificates()
		}
		m.publishLocked()
	}, nil
}

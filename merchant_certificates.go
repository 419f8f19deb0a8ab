package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// setUpCertificates sets up the certificate manager, without a download.
func (m *Merchant) setUpCertificates(storage certmagic.Storage) error {
	urls, err := certificatesURLs(m.CertificatesURL)
	if err != nil {
		return err
	}
	interval := time.Duration(m.RefreshInterval)
	if interval == 0 {
		interval = defaultRefreshInterval
	}
	client := &http.Client{Timeout: downloadTimeout}
	m.certs = &certManager{
		mchid:     m.signer.MchID,               // a key reload never changes it
		macKey:    certstore.MACKey(m.apiv3Key), // a key reload changes it
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
		keys := m.currentKeys() // the APIv3 key (the same AES-256-GCM as callbacks) changes with a key reload
		d := &platformcert.Download{Client: client, UserAgent: userAgent(), Signer: keys.signer,
			AEAD: keys.aead, Now: m.certs.now, Anchors: static.byID, Known: known}
		switch {
		case !static.empty():
			d.Serial = static.chosen
		case len(known) > 0:
			d.Serial = known[0].Serial
		}
		return m.downloadFirst(ctx, d, urls)
	}
	return nil
}

// startCertificates brings the downloaded certificates up to date: those
// in storage, or WeChat Pay's when the stored set is missing or stale. The
// app's Start runs it. It returns an error only when the merchant is left
// with no WeChat Pay key at all (its handlers answer 503 meanwhile); a
// failure with keys in hand is logged. After a failure the refresh worker
// retries soon, not a whole interval later.
func (m *Merchant) startCertificates(ctx context.Context) error {
	defer m.markStarted()
	if m.certs == nil {
		return nil
	}
	res, err := m.certs.refresh(ctx, false)
	if err != nil {
		m.certs.startFailed = true
	}
	if err == nil && m.currentKeys().encrypter == nil && res == refreshNotFound {
		return errors.New("WeChat Pay has no platform certificate for this merchant (it uses the WeChat Pay public key): configure public_key_id and public_key")
	}
	if err == nil {
		return nil
	}
	if m.currentKeys().encrypter == nil {
		return fmt.Errorf("downloading platform certificates: %w (and no WeChat Pay key is configured or stored)", err)
	}
	m.logger.Warn("downloading platform certificates failed; using the keys configured or stored, retrying in the background",
		zap.Error(err))
	return nil
}

// markStarted records that the merchant's start has run: requests waiting
// for it (awaitStart) go on. It may be called more than once.
func (m *Merchant) markStarted() {
	m.startOnce.Do(func() { close(m.started) })
}

// certificatesURLs returns the download URLs of the certificates_url list
// (the default when empty), each an http(s) URL given once.
func certificatesURLs(list URLList) ([]string, error) {
	urls, err := platformcert.URLs(list)
	if err != nil {
		return nil, fmt.Errorf("certificates_url: %w", err)
	}
	return urls, nil
}

// downloadFirst runs d at each of urls in turn until one answers
// (platformcert.Download.RunFirst), and warns when a later URL did.
func (m *Merchant) downloadFirst(ctx context.Context, d *platformcert.Download, urls []string) ([]*platformcert.Certificate, error) {
	certs, failed, err := d.RunFirst(ctx, urls)
	if err == nil && len(failed) > 0 {
		m.logger.Warn("platform certificates downloaded from a later certificates_url", zap.String("url", urls[len(failed)]),
			zap.Strings("failed", failed))
	}
	return certs, err
}

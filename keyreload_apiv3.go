package wechatpay

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"go.uber.org/zap"
)

// storageReadTimeout bounds the read of the stored platform certificates
// during a key reload.
const storageReadTimeout = 10 * time.Second

// apiv3Reload is what a key reload loads for a merchant besides its
// signing and WeChat Pay keys: the APIv3 key again, and the platform
// certificates in storage (those `caddy wechatpay certificates` or another
// instance downloaded since).
type apiv3Reload struct {
	key    []byte
	aead   cipher.AEAD
	macKey []byte // the stored set's MAC key under key; nil without downloads

	stored []*platformcert.Certificate // unexpired certificates read from storage
	// resave holds the stored document when it verified only under the
	// previous APIv3 key: it is written again under the new one, so that
	// the next refresh (of any instance with the new key) trusts it.
	resave *certstore.Document
}

// loadAPIv3Reload resolves apiv3_key again and reads the stored platform
// certificates, changing nothing. Adding or removing the APIv3 key is
// refused: whether certificates are downloaded, and which callback routes
// can work, change only with a configuration reload.
func (m *Merchant) loadAPIv3Reload() (*apiv3Reload, error) {
	key, aead, err := m.keyOptions().loadAPIv3AEAD(m.logger)
	if err != nil {
		return nil, err
	}
	current := m.currentKeys().apiv3Key
	if (key == nil) != (current == nil) {
		return nil, errors.New("apiv3_key was added or removed: that changes only with a configuration reload (caddy reload --force)")
	}
	r := &apiv3Reload{key: key, aead: aead}
	if m.certs == nil {
		return r, nil
	}
	r.macKey = certstore.MACKey(key)
	ctx, cancel := context.WithTimeout(context.Background(), storageReadTimeout)
	defer cancel()
	now := m.now()
	_, stored, err := certstore.Load(ctx, m.certs.storage, m.certs.mchid, r.macKey, now)
	if err != nil && !bytes.Equal(key, current) {
		// Stored under the previous key, by this instance: still trusted.
		var errOld error
		var doc *certstore.Document
		if doc, stored, errOld = certstore.Load(ctx, m.certs.storage, m.certs.mchid, certstore.MACKey(current), now); errOld == nil {
			err, r.resave = nil, doc
		}
	}
	if err != nil {
		m.logger.Warn("key reload: the platform certificates in storage are unusable; keeping those in use", zap.Error(err))
		return r, nil
	}
	r.stored = stored
	return r, nil
}

// commit puts the APIv3 key and the stored certificates in use; m.mu is
// not held. The keys are published by the caller.
func (r *apiv3Reload) commitCertificates(m *Merchant) {
	c := m.certs
	if c == nil {
		return
	}
	merged := platformcert.Merge(c.now(), c.certificates(), r.stored)
	c.mu.Lock()
	c.macKey = r.macKey
	c.current = merged
	c.mu.Unlock()
	if r.resave == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storageReadTimeout)
	defer cancel()
	if err := certstore.Save(ctx, c.storage, c.mchid, r.macKey, r.resave.CheckedAt, r.resave.NotFound, merged); err != nil {
		m.logger.Warn("key reload: the platform certificates could not be stored again under the new APIv3 key; the next refresh downloads them", zap.Error(err))
	}
}

// storageKey returns the key that authenticates the stored set now.
func (c *certManager) storageKey() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.macKey
}

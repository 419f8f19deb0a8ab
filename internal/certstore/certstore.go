// Package certstore keeps a merchant's downloaded platform certificates in
// a Caddy-style storage: one JSON document per merchant, authenticated with
// a MAC under a key derived from the APIv3 key, so that whoever can write
// to a shared storage cannot plant a certificate. It imports neither Caddy
// nor zap: the storage is the part of certmagic.Storage it uses.
package certstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
)

// Storage is the part of certmagic.Storage the documents use. Load must
// return an error wrapping fs.ErrNotExist for a missing key.
type Storage interface {
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
}

// Document is the JSON document a merchant's downloaded platform
// certificates are kept in, in Caddy's storage.
type Document struct {
	// MchID is the merchant the certificates belong to.
	MchID string `json:"mchid"`
	// CheckedAt is when WeChat Pay was last asked successfully (a
	// download, or its response that the merchant has none).
	CheckedAt time.Time `json:"checked_at"`
	// NotFound records that WeChat Pay answered 404 RESOURCE_NOT_EXISTS
	// then: the merchant uses the public key only.
	NotFound bool `json:"not_found,omitempty"`
	// Certificates are every unexpired certificate known then.
	Certificates []storedCertificate `json:"certificates"`
	// MAC is HMAC-SHA256 over the document (without MAC) under a key
	// derived from the merchant's APIv3 key. Downloaded certificates are
	// trusted because they arrive sealed under the APIv3 key; the stored
	// copy keeps that guarantee only if whoever can write to the storage
	// cannot forge it, so a document whose MAC does not verify is ignored.
	MAC string `json:"mac"`
}

// MACKey derives the key that authenticates stored certificates from
// the APIv3 key, so the APIv3 key itself is used for one purpose only.
func MACKey(apiv3Key []byte) []byte {
	m := hmac.New(sha256.New, apiv3Key)
	m.Write([]byte("caddy-wechatpay stored platform certificates v1"))
	return m.Sum(nil)
}

// mac computes the MAC of doc, its MAC field left out.
func (doc Document) mac(key []byte) ([]byte, error) {
	doc.MAC = ""
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(raw)
	return m.Sum(nil), nil
}

// storedCertificate is one kept certificate. Certificates are public: no
// secret is ever stored here.
type storedCertificate struct {
	SerialNo    string    `json:"serial_no"`
	NotBefore   time.Time `json:"effective_time"`
	NotAfter    time.Time `json:"expire_time"`
	Certificate string    `json:"certificate"` // PEM
}

// Key is the storage key of a merchant's certificates.
func Key(mchid string) string {
	return "wechatpay/" + mchid + "/platform_certificates.json"
}

// LockName is the name of the storage lock held while a merchant's
// certificates are downloaded, so that one instance downloads per period.
func LockName(mchid string) string {
	return "wechatpay_" + mchid + "_platform_certificates"
}

// Load reads the stored certificates of mchid; a missing document is
// (nil, nil). Certificates that no longer parse or have expired are left
// out.
func Load(ctx context.Context, storage Storage, mchid string, macKey []byte, now time.Time) (*Document, []*platformcert.Certificate, error) {
	raw, err := storage.Load(ctx, Key(mchid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s from storage: %w", Key(mchid), err)
	}
	var doc Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s in storage is not valid: %w", Key(mchid), err)
	}
	if doc.MchID != mchid {
		return nil, nil, fmt.Errorf("%s in storage belongs to merchant %s", Key(mchid), doc.MchID)
	}
	got, _ := base64.StdEncoding.DecodeString(doc.MAC)
	want, err := doc.mac(macKey)
	if err != nil || !hmac.Equal(got, want) {
		return nil, nil, fmt.Errorf("%s in storage fails its integrity check: it was not written with this merchant's APIv3 key", Key(mchid))
	}
	var certs []*platformcert.Certificate
	for _, sc := range doc.Certificates {
		pc, err := platformcert.Parse([]byte(sc.Certificate))
		if err != nil || pc.Serial != sc.SerialNo {
			continue
		}
		certs = append(certs, pc)
	}
	return &doc, platformcert.Merge(now, nil, certs), nil
}

// Save writes the certificates of mchid.
func Save(ctx context.Context, storage Storage, mchid string, macKey []byte, checked time.Time, notFound bool, certs []*platformcert.Certificate) error {
	doc := Document{MchID: mchid, CheckedAt: checked.UTC(), NotFound: notFound, Certificates: []storedCertificate{}}
	for _, c := range certs {
		doc.Certificates = append(doc.Certificates, storedCertificate{
			SerialNo: c.Serial, NotBefore: c.NotBefore().UTC(), NotAfter: c.NotAfter().UTC(), Certificate: c.PEM,
		})
	}
	mac, err := doc.mac(macKey)
	if err != nil {
		return err
	}
	doc.MAC = base64.StdEncoding.EncodeToString(mac)
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := storage.Store(ctx, Key(mchid), raw); err != nil {
		return fmt.Errorf("storing %s: %w", Key(mchid), err)
	}
	return nil
}

package wechatpay

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
	"github.com/caddyserver/certmagic"
)

// storedCertificates is the JSON document a merchant's downloaded platform
// certificates are kept in, in Caddy's storage.
type storedCertificates struct {
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

// storageMACKey derives the key that authenticates stored certificates from
// the APIv3 key, so the APIv3 key itself is used for one purpose only.
func storageMACKey(apiv3Key []byte) []byte {
	m := hmac.New(sha256.New, apiv3Key)
	m.Write([]byte("caddy-wechatpay stored platform certificates v1"))
	return m.Sum(nil)
}

// mac computes the MAC of doc, its MAC field left out.
func (doc storedCertificates) mac(key []byte) ([]byte, error) {
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

// certificatesKey is the storage key of a merchant's certificates.
func certificatesKey(mchid string) string {
	return "wechatpay/" + mchid + "/platform_certificates.json"
}

// certificatesLock is the name of the storage lock held while a merchant's
// certificates are downloaded, so that one instance downloads per period.
func certificatesLock(mchid string) string {
	return "wechatpay_" + mchid + "_platform_certificates"
}

// loadStored reads the stored certificates of mchid; a missing document is
// (nil, nil). Certificates that no longer parse or have expired are left
// out.
func loadStored(ctx context.Context, storage certmagic.Storage, mchid string, macKey []byte, now time.Time) (*storedCertificates, []*platformcert.Certificate, error) {
	raw, err := storage.Load(ctx, certificatesKey(mchid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s from storage: %w", certificatesKey(mchid), err)
	}
	var doc storedCertificates
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s in storage is not valid: %w", certificatesKey(mchid), err)
	}
	if doc.MchID != mchid {
		return nil, nil, fmt.Errorf("%s in storage belongs to merchant %s", certificatesKey(mchid), doc.MchID)
	}
	got, _ := base64.StdEncoding.DecodeString(doc.MAC)
	want, err := doc.mac(macKey)
	if err != nil || !hmac.Equal(got, want) {
		return nil, nil, fmt.Errorf("%s in storage fails its integrity check: it was not written with this merchant's APIv3 key", certificatesKey(mchid))
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

// saveStored writes the certificates of mchid.
func saveStored(ctx context.Context, storage certmagic.Storage, mchid string, macKey []byte, checked time.Time, notFound bool, certs []*platformcert.Certificate) error {
	doc := storedCertificates{MchID: mchid, CheckedAt: checked.UTC(), NotFound: notFound, Certificates: []storedCertificate{}}
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
	if err := storage.Store(ctx, certificatesKey(mchid), raw); err != nil {
		return fmt.Errorf("storing %s: %w", certificatesKey(mchid), err)
	}
	return nil
}

// storageLocation describes where a key lives in storage, for people: the
// file path for the file system storage, else the storage and the key.
func storageLocation(storage certmagic.Storage, key string) string {
	if fsys, ok := storage.(*certmagic.FileStorage); ok {
		return fsys.Filename(key)
	}
	if s, ok := storage.(fmt.Stringer); ok {
		return s.String() + " key " + key
	}
	return fmt.Sprintf("%T key %s", storage, key)
}

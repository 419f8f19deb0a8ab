package testkit

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"sync/atomic"
	"time"
)

// Credentials is a throwaway credential set: the merchant's key and the
// WeChat Pay side's keys, whose private halves only the tests (playing
// WeChat Pay) hold.
type Credentials struct {
	MchID, SerialNo string
	MerchantKey     *rsa.PrivateKey
	PublicKeyID     string
	WechatPayKey    *rsa.PrivateKey // private half of the WeChat Pay public key
	PlatformKey     *rsa.PrivateKey
	PlatformCert    *x509.Certificate
	PlatformSerial  string
}

var (
	baseOnce    sync.Once
	base        Credentials
	rotatedOnce sync.Once
	rotated     atomic.Pointer[Credentials]
)

// Creds returns the credential set of this test binary, generated on first
// use. Callers must not change it.
func Creds() *Credentials {
	baseOnce.Do(func() {
		base.MchID = "1900000001"
		base.SerialNo = "3775B6A45ACD588826D15E583A95F5DD12345678"
		base.MerchantKey = NewKey()
		base.PublicKeyID = "PUB_KEY_ID_0114232134912410000000000000"
		base.WechatPayKey = NewKey()
		base.PlatformKey = NewKey()
		base.PlatformSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
		base.PlatformCert = SelfSigned(base.PlatformKey, base.PlatformSerial, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	})
	return &base
}

// Rotated returns a second set for key-rotation tests: the same merchant
// with a new merchant key and serial, and a new WeChat Pay public key.
func Rotated() *Credentials {
	rotatedOnce.Do(func() {
		r := *Creds()
		r.SerialNo = "4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D"
		r.MerchantKey = NewKey()
		r.PublicKeyID = "PUB_KEY_ID_0114232134912410000000000099"
		r.WechatPayKey = NewKey()
		rotated.Store(&r)
	})
	return rotated.Load()
}

// RotatedIfMade returns the rotated set if a test asked for it, else nil:
// a stand-in that serves both sets need not generate keys nobody uses.
func RotatedIfMade() *Credentials { return rotated.Load() }

// NewKey generates an RSA-2048 key.
func NewKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// SelfSigned returns a self-signed certificate for key with the given hex
// serial and validity, as WeChat Pay's platform certificates are shaped.
func SelfSigned(key *rsa.PrivateKey, serialHex string, notBefore, notAfter time.Time) *x509.Certificate {
	return IssueCertificate(CertSpec{Public: &key.PublicKey, SerialHex: serialHex, CommonName: "Tenpay.com Root CA (test)",
		NotBefore: notBefore, NotAfter: notAfter, IssuerKey: key})
}

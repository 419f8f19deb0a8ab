package wechatpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCreds is a throwaway credential set generated once per test binary:
// the merchant's key and the WeChat Pay side's keys, whose private halves
// only the tests (playing WeChat Pay) hold.
type testCreds struct {
	mchid, serialNo string
	merchantKey     *rsa.PrivateKey
	publicKeyID     string
	wechatpayKey    *rsa.PrivateKey // private half of the WeChat Pay public key
	platformKey     *rsa.PrivateKey
	platformCert    *x509.Certificate
	platformSerial  string
}

var (
	credsOnce sync.Once
	creds     testCreds
)

func testCredentials(t testing.TB) *testCreds {
	t.Helper()
	credsOnce.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		creds.mchid = "1900000001"
		creds.serialNo = "3775B6A45ACD588826D15E583A95F5DD12345678"
		creds.merchantKey = gen()
		creds.publicKeyID = "PUB_KEY_ID_0114232134912410000000000000"
		creds.wechatpayKey = gen()
		creds.platformKey = gen()
		serial, _ := new(big.Int).SetString("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", 16)
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: "Tenpay.com Root CA (test)"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &creds.platformKey.PublicKey, creds.platformKey)
		if err != nil {
			panic(err)
		}
		creds.platformCert, _ = x509.ParseCertificate(der)
		creds.platformSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	})
	return &creds
}

func pemPKCS8(t testing.TB, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func pemPKCS1(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func pemPublic(t testing.TB, k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func pemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// writeFile writes content into dir/name with mode 0600 and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// presignBody is the reference page's request, with the sensitive values in
// plaintext as a legacy app sends them (and an 18-digit plan_id number kept
// as a number to check that number literals survive byte for byte).
const presignBody = `{
  "appid": "wx8888888888888888",
  "openid": "oUpF8uMuAJOM2pxb1Q",
  "plan_id": "101164396123311331",
  "user_id": "20200330tony",
  "school_id": "18260256813396",
  "out_contract_code": "20190806125346",
  "contract_mode": "LIMIT_BANK_CARD",
  "downgrade_default_contract": true,
  "identity": {
    "real_name": "张三",
    "credential_type": "IDENTITY_CARD",
    "id_card_number": "110101199003071234"
  },
  "bank_card": {
    "bank_card_no": "6222021234567890123",
    "valid_thru": "08/21",
    "phone": "13800138000",
    "bank_type": "CMC"
  },
  "trace": 101164396123311331
}`

// presignPlain maps each sensitive path of presignBody to its plaintext.
var presignPlain = map[string]string{
	"identity.real_name":       "张三",
	"identity.credential_type": "IDENTITY_CARD",
	"identity.id_card_number":  "110101199003071234",
	"bank_card.bank_card_no":   "6222021234567890123",
	"bank_card.phone":          "13800138000",
}

// presignFields are the fields marked data-encrypted=by-rsa-pubkey on the
// presign reference page, written out here independently of the catalogue.
var presignFields = []string{
	"identity.real_name",
	"identity.credential_type",
	"identity.id_card_number",
	"bank_card.bank_card_no",
	"bank_card.phone",
}

// rotated is a second merchant key and WeChat Pay public key, for key
// rotation tests; nil until rotatedCredentials is called.
var (
	rotatedOnce sync.Once
	rotated     atomic.Pointer[testCreds]
)

func rotatedCredentials(t testing.TB) *testCreds {
	base := testCredentials(t)
	rotatedOnce.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		r := *base
		r.serialNo = "4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D"
		r.merchantKey = gen()
		r.publicKeyID = "PUB_KEY_ID_0114232134912410000000000099"
		r.wechatpayKey = gen()
		rotated.Store(&r)
	})
	return rotated.Load()
}

func rotatedPublicKeyID() string {
	if r := rotated.Load(); r != nil {
		return r.publicKeyID
	}
	return "\x00none"
}

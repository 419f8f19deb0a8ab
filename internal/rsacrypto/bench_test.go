package rsacrypto

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// The benchmarks of one request's RSA operations, under RSA-2048 keys, for
// whichever backend the build has: compare `go test -run XXX -bench .`
// with the same under `-tags openssl` (benchstat). The OpenSSL build's
// benchmarks of the operations it leaves to Go are in
// openssl_bench_test.go.

func BenchmarkSign(b *testing.B) {
	k, err := NewPrivateKey(testkit.Creds().MerchantKey)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("POST\n/v3/pay/transactions/jsapi\n1700000000\nNONCE\n{}\n"))
	stop := reportCPU(b)
	for b.Loop() {
		if _, err := k.SignPKCS1v15SHA256(digest[:]); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// benchEncrypt measures encrypt on one presign field's value.
func benchEncrypt(b *testing.B, encrypt func(msg []byte) error) {
	msg := []byte("6222021234567890123")
	stop := reportCPU(b)
	for b.Loop() {
		if err := encrypt(msg); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// benchVerify measures verify on a good signature of a response's digest
// under the test WeChat Pay key.
func benchVerify(b *testing.B, verify func(hashed, sig []byte) error) {
	digest := sha256.Sum256([]byte("1700000000\nNONCE\n{\"prepay_id\":\"wx1\"}\n"))
	sig, err := rsa.SignPKCS1v15(nil, testkit.Creds().WechatPayKey, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	stop := reportCPU(b)
	for b.Loop() {
		if err := verify(digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

func BenchmarkEncryptOAEP(b *testing.B) {
	p := NewPublicKey(&testkit.Creds().WechatPayKey.PublicKey)
	scratch := p.Scratch()
	benchEncrypt(b, func(msg []byte) error { _, err := p.EncryptOAEPSHA1(msg, scratch); return err })
}

func BenchmarkVerify(b *testing.B) {
	benchVerify(b, NewPublicKey(&testkit.Creds().WechatPayKey.PublicKey).VerifyPKCS1v15SHA256)
}

func BenchmarkDecryptOAEP(b *testing.B) {
	merchant := testkit.Creds().MerchantKey
	k, err := NewPrivateKey(merchant)
	if err != nil {
		b.Fatal(err)
	}
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &merchant.PublicKey, []byte("6222021234567890123"), nil)
	if err != nil {
		b.Fatal(err)
	}
	stop := reportCPU(b)
	for b.Loop() {
		if _, err := k.DecryptOAEPSHA1(ct); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// BenchmarkNewPrivateKey is the cost of loading a merchant key, once per
// key set (at start and on every key reload).
func BenchmarkNewPrivateKey(b *testing.B) {
	key := testkit.Creds().MerchantKey
	stop := reportCPU(b)
	for b.Loop() {
		if _, err := NewPrivateKey(key); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// BenchmarkUnpreparedEncryptOAEP and BenchmarkUnpreparedVerify are the same
// operations with the key left to crypto/rsa, which prepares the modulus on
// every call: what the prepared keys save per operation (a request makes
// five encryptions and one verification, the presign request).
func BenchmarkUnpreparedEncryptOAEP(b *testing.B) {
	p := &PublicKey{key: &testkit.Creds().WechatPayKey.PublicKey}
	benchEncrypt(b, func(msg []byte) error { _, err := p.EncryptOAEPSHA1(msg, nil); return err })
}

func BenchmarkUnpreparedVerify(b *testing.B) {
	benchVerify(b, (&PublicKey{key: &testkit.Creds().WechatPayKey.PublicKey}).VerifyPKCS1v15SHA256)
}

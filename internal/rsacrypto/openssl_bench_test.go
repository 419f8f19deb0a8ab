//go:build openssl && cgo && linux && !android

package rsacrypto

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/microsoft/go-crypto-openssl/openssl"
	"github.com/microsoft/go-crypto-openssl/openssl/bbig/bridge"
)

// What the public-key operations would cost through OpenSSL, the
// alternative this build does not take (see public.go): compare with
// BenchmarkEncryptOAEP and BenchmarkVerify of the same run.

func opensslPublic(b *testing.B, k *rsa.PublicKey) *openssl.PublicKeyRSA {
	if _, _, err := Backend(); err != nil {
		b.Skipf("OpenSSL not loaded: %v", err)
	}
	pub, err := bridge.NewPublicKeyRSA(k.N, big.NewInt(int64(k.E)))
	if err != nil {
		b.Fatal(err)
	}
	return pub
}

func BenchmarkOpenSSLEncryptOAEP(b *testing.B) {
	pub := opensslPublic(b, &testkit.Creds().WechatPayKey.PublicKey)
	msg := []byte("6222021234567890123")
	stop := reportCPU(b)
	for b.Loop() {
		if _, err := openssl.EncryptRSAOAEP(libcrypto.sha1, pub, msg, nil); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

func BenchmarkOpenSSLVerify(b *testing.B) {
	key := testkit.Creds().WechatPayKey
	pub := opensslPublic(b, &key.PublicKey)
	digest := sha256.Sum256([]byte("1700000000\nNONCE\n{\"prepay_id\":\"wx1\"}\n"))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	stop := reportCPU(b)
	for b.Loop() {
		if err := openssl.VerifyRSAPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

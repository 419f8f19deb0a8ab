//go:build openssl && cgo && linux && !android

package rsacrypto

import (
	"crypto"
	"crypto/rsa"
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
	benchEncrypt(b, func(msg []byte) error { _, err := openssl.EncryptRSAOAEP(libcrypto.sha1, pub, msg, nil); return err })
}

func BenchmarkOpenSSLVerify(b *testing.B) {
	pub := opensslPublic(b, &testkit.Creds().WechatPayKey.PublicKey)
	benchVerify(b, func(hashed, sig []byte) error { return openssl.VerifyRSAPKCS1v15(pub, crypto.SHA256, hashed, sig) })
}

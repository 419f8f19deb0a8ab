//go:build openssl && cgo && linux && !android

package rsacrypto

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"

	"github.com/microsoft/go-crypto-openssl/openssl"
	"github.com/microsoft/go-crypto-openssl/openssl/bbig/bridge"
)

// opensslPrivate is a merchant private key loaded into libcrypto (an
// EVP_PKEY with its CRT parameters), made once per key by NewPrivateKey.
//
// Its EVP_PKEY is freed by go-crypto-openssl's finalizer on
// *openssl.PrivateKeyRSA once that object is unreachable, that is once the
// PrivateKey holding it is dropped: key sets are swapped atomically and an
// old one may still sign for a request in flight, so no one frees a key
// explicitly (the library has no call for it either). The tests check that
// dropped keys are freed and that memory stays bounded.
type opensslPrivate struct {
	key *openssl.PrivateKeyRSA
}

// pairwiseDigest is what newOpenSSLPrivate signs to check a loaded key: the
// SHA-256 of "rsacrypto pairwise consistency".
var pairwiseDigest = sha256.Sum256([]byte("rsacrypto pairwise consistency"))

// newOpenSSLPrivate loads k into libcrypto, or returns nil to leave k to
// crypto/rsa: when libcrypto is not loaded, when crypto/rsa finds the key
// invalid (it refuses it on use, and so must this module in every build),
// for a multi-prime key, and when the key libcrypto holds does not make a
// signature that crypto/rsa verifies under the key's public half (a
// pairwise consistency check, one signature per loaded key).
func newOpenSSLPrivate(k *rsa.PrivateKey) *opensslPrivate {
	if loadOpenSSL() != nil || len(k.Primes) != 2 || k.Validate() != nil {
		return nil
	}
	pre := k.Precomputed
	if pre.Dp == nil || pre.Dq == nil || pre.Qinv == nil {
		return nil
	}
	key, err := bridge.NewPrivateKeyRSA(k.N, big.NewInt(int64(k.E)), k.D,
		k.Primes[0], k.Primes[1], pre.Dp, pre.Dq, pre.Qinv)
	if err != nil {
		return nil
	}
	o := &opensslPrivate{key: key}
	sig, err := o.signPKCS1v15SHA256(pairwiseDigest[:])
	if err != nil || rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, pairwiseDigest[:], sig) != nil {
		return nil
	}
	return o
}

// signPKCS1v15SHA256 signs the SHA-256 digest hashed (32 bytes, checked by
// the caller) with RSASSA-PKCS1-v1_5: EVP_PKEY_sign with PKCS #1 padding
// and SHA-256 as the digest, which writes the same DigestInfo encoding
// as crypto/rsa, so the same bytes.
func (o *opensslPrivate) signPKCS1v15SHA256(hashed []byte) ([]byte, error) {
	sig, err := openssl.SignRSAPKCS1v15(o.key, crypto.SHA256, hashed)
	if err != nil {
		return nil, opensslError("signature", err)
	}
	return sig, nil
}

// decryptOAEPSHA1 decrypts an RSAES-OAEP (SHA-1, MGF1-SHA-1, empty label)
// ciphertext. Every failure is rsa.ErrDecryption, as crypto/rsa's is: a
// padding oracle must learn nothing from the error.
func (o *opensslPrivate) decryptOAEPSHA1(ciphertext []byte) ([]byte, error) {
	plain, err := openssl.DecryptRSAOAEP(libcrypto.sha1, o.key, ciphertext, nil)
	if err != nil {
		return nil, rsa.ErrDecryption
	}
	return plain, nil
}

package rsacrypto

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
)

// PrivateKey is the merchant API private key, ready to sign requests and
// invocations and to decrypt the response fields WeChat Pay encrypted for the
// merchant.
type PrivateKey struct {
	key    *rsa.PrivateKey
	native *opensslPrivate // nil: crypto/rsa does the work (always, in the default build)
}

// NewPrivateKey prepares key for its signatures and decryptions, once per
// key. In a build with the openssl tag it also loads the key into libcrypto
// (see Backend), which frees it when the PrivateKey is dropped; a key that
// crypto/rsa finds invalid, a multi-prime key, or one whose first OpenSSL
// signature crypto/rsa does not verify stays with crypto/rsa.
func NewPrivateKey(key *rsa.PrivateKey) (*PrivateKey, error) {
	if key == nil {
		return nil, errors.New("no RSA private key")
	}
	key.Precompute()
	return &PrivateKey{key: key, native: newOpenSSLPrivate(key)}, nil
}

// Backend names the code that signs with this key and decrypts with it,
// as Backend does for the package: "OpenSSL" when libcrypto holds the
// key, else "Go crypto/rsa" (always in the default build; in an openssl
// build, also for a key libcrypto could not take, see NewPrivateKey).
func (k *PrivateKey) Backend() string {
	if k.native != nil {
		return openSSLBackendName
	}
	return goBackendName
}

// Public returns the key's public half.
func (k *PrivateKey) Public() *rsa.PublicKey { return &k.key.PublicKey }

// SignPKCS1v15SHA256 signs the SHA-256 digest hashed with RSASSA-PKCS1-v1_5.
// The signature is deterministic: the same key and digest always give the
// same bytes.
func (k *PrivateKey) SignPKCS1v15SHA256(hashed []byte) ([]byte, error) {
	if len(hashed) != sha256.Size {
		return nil, errors.New("rsacrypto: a SHA-256 digest is 32 bytes")
	}
	if k.native != nil {
		return k.native.signPKCS1v15SHA256(hashed)
	}
	return rsa.SignPKCS1v15(nil, k.key, crypto.SHA256, hashed)
}

// DecryptOAEPSHA1 decrypts an RSAES-OAEP (SHA-1, MGF1-SHA-1, empty label)
// ciphertext.
func (k *PrivateKey) DecryptOAEPSHA1(ciphertext []byte) ([]byte, error) {
	if k.native != nil {
		return k.native.decryptOAEPSHA1(ciphertext)
	}
	return rsa.DecryptOAEP(sha1.New(), nil, k.key, ciphertext, nil)
}

// Package rsacrypto holds the RSA operations of WeChat Pay APIv3, each key
// prepared once for all its uses: RSA-OAEP with SHA-1 (sensitive fields) and
// RSASSA-PKCS1-v1_5 with SHA-256 (request signatures, response and callback
// verification). It knows nothing of HTTP, JSON or Caddy.
//
// Public keys are prepared with filippo.io/bigmod, the arithmetic crypto/rsa
// is built on, published on its own: crypto/rsa prepares the modulus again on
// every operation, a third of an OAEP encryption's cost.
//
// Private keys sign and decrypt through crypto/rsa in the default build,
// which is pure Go (no cgo). Built with the tag openssl (and cgo, on
// Linux), they go through OpenSSL's libcrypto instead, about 3.8 times
// faster for RSA-2048: libcrypto is loaded at run time (dlopen, through
// github.com/microsoft/go-crypto-openssl) on first use, and when it cannot
// be, or in FIPS 140 mode, crypto/rsa does the work and Backend says why.
// The signatures are the same bytes either way (RSASSA-PKCS1-v1_5 is
// deterministic); the tests of that build check it against crypto/rsa and
// the official SDK. Public keys stay with the prepared Go code in both
// builds, faster there (see PublicKey).
package rsacrypto

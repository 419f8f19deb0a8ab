// Package rsacrypto holds the RSA operations of WeChat Pay APIv3, each key
// prepared once for all its uses: RSA-OAEP with SHA-1 (sensitive fields) and
// RSASSA-PKCS1-v1_5 with SHA-256 (request signatures, answer and callback
// verification). It knows nothing of HTTP, JSON or Caddy.
//
// Public keys are prepared with filippo.io/bigmod, the arithmetic crypto/rsa
// is built on, published on its own: crypto/rsa prepares the modulus again on
// every operation, a third of an OAEP encryption's cost. Private keys sign
// through crypto/rsa.
package rsacrypto

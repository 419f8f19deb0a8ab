//go:build !openssl

package rsacrypto

// builtWithOpenSSLTag tells whether the build asked for the OpenSSL backend
// (build tag openssl), whether or not it could have it.
const builtWithOpenSSLTag = false

//go:build !(openssl && cgo && linux && !android)

package rsacrypto

import (
	"crypto/rsa"
	"errors"
	"runtime"
)

// This build has no OpenSSL backend: crypto/rsa makes every private-key
// operation. The names below are the OpenSSL build's, so that the code
// that uses them is the same in both builds; none of them does anything.

// errNoCgo is Backend's fallback error for a build with the openssl tag
// that cannot use it: go-crypto-openssl needs cgo and Linux.
var errNoCgo = errors.New("rsacrypto: built with the openssl tag but without cgo on Linux (CGO_ENABLED=1 on linux is needed): crypto/rsa signs")

func backend() (name, version string, fallbackErr error) {
	if builtWithOpenSSLTag {
		return goBackendName, runtime.Version(), errNoCgo
	}
	return goBackendName, runtime.Version(), nil
}

// opensslPrivate stands for a private key loaded into libcrypto; there is
// never one in this build.
type opensslPrivate struct{}

// newOpenSSLPrivate returns nil: crypto/rsa does the work.
func newOpenSSLPrivate(*rsa.PrivateKey) *opensslPrivate { return nil }

var errNoOpenSSL = errors.New("rsacrypto: no OpenSSL in this build")

func (*opensslPrivate) signPKCS1v15SHA256([]byte) ([]byte, error) { return nil, errNoOpenSSL }

func (*opensslPrivate) decryptOAEPSHA1([]byte) ([]byte, error) { return nil, errNoOpenSSL }

//go:build openssl && cgo && linux && !android

package rsacrypto

import (
	"crypto/fips140"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strings"
	"sync"

	"github.com/microsoft/go-crypto-openssl/openssl"
)

// This build (tag openssl, cgo, Linux) makes the merchant's signatures and
// decryptions with OpenSSL's libcrypto, loaded at run time with dlopen by
// github.com/microsoft/go-crypto-openssl (libcrypto.so.3, else 1.1; the
// environment variable GO_OPENSSL_VERSION_OVERRIDE names another suffix).
// Nothing links against libcrypto: a binary whose machine lacks it starts,
// and signs with crypto/rsa (Backend says why).
//
// libcrypto is loaded lazily, once (sync.Once), by the first Backend or
// NewPrivateKey: a process that never loads a key (the CLI's other
// commands, most tests) never loads it.

// errFIPSMode is Backend's fallback error in FIPS 140 mode (GODEBUG
// fips140=on or only): the RSA operations stay in Go's validated module,
// as the default build's do; OpenSSL is not even loaded.
var errFIPSMode = errors.New("rsacrypto: FIPS 140 mode (GODEBUG fips140): the Go Cryptographic Module does the RSA operations, not OpenSSL")

var libcrypto struct {
	once    sync.Once
	version string
	err     error
	// sha1 is a go-crypto-openssl SHA-1, made once: its OAEP functions
	// read the hash from the type of the hash.Hash they are given.
	sha1 hash.Hash
}

// loadOpenSSL loads and initialises libcrypto the first time; it returns
// nil when the OpenSSL backend is usable.
func loadOpenSSL() error {
	libcrypto.once.Do(func() {
		if fips140.Enabled() {
			libcrypto.err = errFIPSMode
			return
		}
		if err := openssl.Init(); err != nil {
			libcrypto.err = fmt.Errorf("rsacrypto: OpenSSL not loaded, crypto/rsa signs: %w", err)
			return
		}
		libcrypto.version = openssl.VersionText()
		if openssl.FIPS() {
			libcrypto.version += " (FIPS provider)"
		}
		libcrypto.sha1 = openssl.NewSHA1()
	})
	return libcrypto.err
}

func backend() (name, version string, fallbackErr error) {
	if err := loadOpenSSL(); err != nil {
		return goBackendName, runtime.Version(), err
	}
	return openSSLBackendName, libcrypto.version, nil
}

// opensslError is err from go-crypto-openssl with its padding removed (its
// error texts hold OpenSSL's error strings in fixed 256-byte buffers).
func opensslError(op string, err error) error {
	return fmt.Errorf("rsacrypto: OpenSSL %s: %s", op, strings.TrimSpace(strings.ReplaceAll(err.Error(), "\x00", "")))
}

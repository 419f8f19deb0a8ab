package rsacrypto

// The names Backend reports.
const (
	goBackendName      = "Go crypto/rsa"
	openSSLBackendName = "OpenSSL"
)

// Backend tells which code makes the merchant's signatures (and decrypts
// what WeChat Pay encrypted for the merchant), for one line in the log at
// start: "Go crypto/rsa" and the Go version, or "OpenSSL" and libcrypto's
// version text ("OpenSSL 3.0.19 27 Jan 2026").
//
// The default build always answers "Go crypto/rsa". A build with the
// openssl tag (and cgo, on Linux) loads libcrypto at run time, once, on the
// first call of Backend or NewPrivateKey; when it cannot (no libcrypto, an
// unsupported version, FIPS 140 mode, or the tag given without cgo), it
// signs with crypto/rsa and fallbackErr says why: log it as a warning.
// Every call returns the same response.
func Backend() (name, version string, fallbackErr error) { return backend() }

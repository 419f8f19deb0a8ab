package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// SigningKey chooses which WeChat Pay key signs the sandbox's answers.
type SigningKey int

const (
	// SignWithRequested (the default) signs with the key the request's
	// Wechatpay-Serial header names when it names a known key, else with
	// the public key (or the platform certificate when no public key is
	// configured). This is what WeChat Pay does for merchants in migration.
	SignWithRequested SigningKey = iota
	// SignWithPublicKey always signs with the WeChat Pay public key.
	SignWithPublicKey
	// SignWithPlatformCertificate always signs with the platform certificate.
	SignWithPlatformCertificate
)

// Faults make the sandbox's answers misbehave so that a proxy's response
// verification can be tested. Several may be combined. They apply to every
// answer, errors included; the signature faults do not touch the unsigned
// answers (the bill download, the simulated client's at
// ClientRequestPaymentPath).
type Faults struct {
	// WrongKey signs answers with a random key nobody knows, while
	// Wechatpay-Serial still names the expected key.
	WrongKey bool
	// StaleTimestamp dates answers 10 minutes in the past
	// (Wechatpay-Timestamp), with a signature that is valid for that date.
	StaleTimestamp bool
	// UnknownSerial puts a serial / public key ID nobody knows in
	// Wechatpay-Serial; the signature itself is made by the real key.
	UnknownSerial bool
	// ProbeSignature replaces Wechatpay-Signature with a
	// "WECHATPAY/SIGNTEST/..." probe signature, which must fail verification.
	ProbeSignature bool
	// OmitSignature leaves out Wechatpay-Timestamp, Wechatpay-Nonce,
	// Wechatpay-Signature and Wechatpay-Serial.
	OmitSignature bool
	// Gzip compresses answers (Content-Encoding: gzip) whatever the
	// request's Accept-Encoding; the signature covers the decoded bytes,
	// which is correct, so a client must decode before verifying.
	Gzip bool
	// CorruptBill changes one byte of every bill file a list answer
	// issued (the download stays unsigned, as WeChat Pay's are; the
	// digest in the signed list answer no longer matches).
	CorruptBill bool
}

// Any reports whether any fault is enabled.
func (f Faults) Any() bool { return f != Faults{} }

// Config configures a Server. MchID and MerchantCertificate are required,
// and at least one WeChat Pay key: PublicKeyID with PublicKeyPrivateKey,
// and/or PlatformCertificate with PlatformPrivateKey.
// Credentials.ServerConfig fills in the keys of a generated set.
type Config struct {
	// MchID is the only merchant number the sandbox accepts.
	MchID string
	// MerchantCertificate is the merchant API certificate: its serial must
	// be the Authorization serial_no and its key verifies request
	// signatures; answer fields are encrypted for it.
	MerchantCertificate *x509.Certificate
	// PublicKeyID names the WeChat Pay public key (PUB_KEY_ID_...).
	PublicKeyID string
	// PublicKeyPrivateKey is the private half of the WeChat Pay public key:
	// it decrypts fields sent under PublicKeyID and signs answers.
	PublicKeyPrivateKey *rsa.PrivateKey
	// PlatformCertificate is the WeChat Pay platform certificate, named by
	// its serial.
	PlatformCertificate *x509.Certificate
	// PlatformPrivateKey is the platform certificate's private key.
	PlatformPrivateKey *rsa.PrivateKey
	// SignWith chooses the key that signs answers; see SigningKey.
	SignWith SigningKey
	// Now is the clock (request timestamp window, answer timestamps, the
	// Date header); time.Now when nil. Clients verify answer timestamps
	// against their own clock, so a skewed Now also makes answers look
	// stale.
	Now func() time.Time
	// Observer, when set, receives one Exchange per request, synchronously,
	// after the answer is built and just before it is written. It may hold
	// decrypted personal data: it is meant for demos and tests.
	Observer func(Exchange)
	// APIv3Key, when set (32 bytes), encrypts the certificates that
	// GET /v3/certificates serves; Server.SetAPIv3Key changes it.
	APIv3Key string
	// APIv2Key, when set (32 characters), is the merchant's APIv2 key
	// (API密钥): the simulated client's coupon and payscore form routes
	// verify signs with it.
	APIv2Key string
	// Faults are the initial answer faults; Server.SetFaults changes them.
	Faults Faults
	// Logger, when set, gets one line per request: method, path (no
	// query), status, error code, Request-ID. Nothing secret or personal
	// is logged.
	Logger *slog.Logger
}

// validate checks that the configuration is usable.
func (c *Config) validate() error {
	var errs []error
	if !isDigits(c.MchID) {
		errs = append(errs, errors.New("MchID must be a merchant number"))
	}
	if certKey(c.MerchantCertificate) == nil {
		errs = append(errs, errors.New("MerchantCertificate with an RSA key is required"))
	}
	hasPub := c.PublicKeyID != "" || c.PublicKeyPrivateKey != nil
	hasPlat := c.PlatformCertificate != nil || c.PlatformPrivateKey != nil
	if !hasPub && !hasPlat {
		errs = append(errs, errors.New("a WeChat Pay key is required: PublicKeyID+PublicKeyPrivateKey and/or PlatformCertificate+PlatformPrivateKey"))
	}
	if hasPub {
		if !strings.HasPrefix(c.PublicKeyID, PublicKeyIDPrefix) {
			errs = append(errs, errors.New("PublicKeyID must start with "+PublicKeyIDPrefix))
		}
		if c.PublicKeyPrivateKey == nil {
			errs = append(errs, errors.New("PublicKeyPrivateKey is required with PublicKeyID"))
		}
	}
	if hasPlat {
		if err := samePublicKey(certKey(c.PlatformCertificate), c.PlatformPrivateKey); err != nil {
			errs = append(errs, errors.New("PlatformCertificate and PlatformPrivateKey: "+err.Error()))
		}
	}
	switch c.SignWith {
	case SignWithRequested:
	case SignWithPublicKey:
		if !hasPub {
			errs = append(errs, errors.New("SignWithPublicKey needs a public key"))
		}
	case SignWithPlatformCertificate:
		if !hasPlat {
			errs = append(errs, errors.New("SignWithPlatformCertificate needs a platform certificate"))
		}
	default:
		errs = append(errs, errors.New("unknown SignWith value"))
	}
	return errors.Join(errs...)
}

package apiv3

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// Codes carried by a *VerifyError. The proxy answers them as the "code" of
// its 502 JSON error.
const (
	// CodeSignatureMissing: one of the timestamp, nonce, signature or serial
	// headers is absent or blank.
	CodeSignatureMissing = "SIGNATURE_MISSING"
	// CodeSignatureProbe: the signature starts with ProbeSignaturePrefix, a
	// deliberately wrong signature WeChat Pay sends to test that callers verify.
	CodeSignatureProbe = "SIGNATURE_PROBE"
	// CodeSerialUnknown: no key is configured for the Wechatpay-Serial value.
	CodeSerialUnknown = "SERIAL_UNKNOWN"
	// CodeTimestampInvalid: Wechatpay-Timestamp is not a base-10 integer.
	CodeTimestampInvalid = "TIMESTAMP_INVALID"
	// CodeTimestampExpired: Wechatpay-Timestamp is MaxResponseSkew or more
	// away from now, in either direction.
	CodeTimestampExpired = "TIMESTAMP_EXPIRED"
	// CodeSignatureInvalid: the signature is not standard base64 or does not
	// verify against the key named by Wechatpay-Serial.
	CodeSignatureInvalid = "SIGNATURE_INVALID"
	// CodeSignatureReplayed: the signature verifies, but the same
	// (serial, timestamp, nonce) was accepted before: a recorded response
	// or callback sent again.
	CodeSignatureReplayed = "SIGNATURE_REPLAYED"
	// CodeReplayWindowFull: the signature verifies, but the window of
	// signatures seen is full, so a replay could not be recognised: it is
	// refused rather than accepted unchecked.
	CodeReplayWindowFull = "REPLAY_WINDOW_FULL"
)

// ProbeSignaturePrefix starts the probe signatures WeChat Pay sometimes sends
// to check that the caller really verifies answers.
const ProbeSignaturePrefix = "WECHATPAY/SIGNTEST/"

// MaxResponseSkew is how far Wechatpay-Timestamp may be from the local clock.
// As in the official SDK, the comparison is in whole seconds and a difference
// of exactly 5 minutes (300 s) is already expired: |now - ts| >= 300 rejects.
const MaxResponseSkew = 5 * time.Minute

// Verifier checks WeChat Pay's signature on a response or a callback.
//
// It mirrors the official SDK (validators.WechatPayResponseValidator):
// header values are trimmed with strings.TrimSpace, the timestamp is parsed
// with strconv.ParseInt(base 10) and re-formatted in the signed message
// (so "+0170..." is signed as "170..."), serials are matched exactly
// (case-sensitive), and the signature is decoded with base64.StdEncoding.
//
// A Verifier is safe for concurrent use once built; do not change Now
// while Verify may run.
type Verifier struct {
	// Now is the clock used for the timestamp check; nil means time.Now.
	Now func() time.Time

	// Window, when set, remembers every signature accepted, so that a
	// signed response or callback played again while its timestamp is
	// still accepted is refused (SIGNATURE_REPLAYED). It is checked only
	// after the signature verifies, so unsigned junk cannot fill it. Its
	// window must be at least MaxResponseSkew, on the same clock as Now.
	Window *replay.Window

	keys    map[string]*rsacrypto.PublicKey
	maxSkew int64 // seconds
}

// NewVerifier returns a verifier trusting keys, keyed by WeChat Pay
// public key ID ("PUB_KEY_ID_...") or platform certificate serial (upper-case
// hex of the serial's bytes, leading zero kept, as pemkey.CertificateSerial
// writes it). The map is copied; nil keys
// are ignored.
func NewVerifier(keys map[string]*rsa.PublicKey) *Verifier {
	v := &Verifier{keys: make(map[string]*rsacrypto.PublicKey, len(keys)), maxSkew: int64(MaxResponseSkew / time.Second)}
	for id, k := range keys {
		if k != nil {
			v.keys[id] = rsacrypto.NewPublicKey(k)
		}
	}
	return v
}

// VerifyError reports why a response's signature was rejected. Its Error text
// never contains the signature value.
type VerifyError struct {
	Code      string // one of the Code* constants
	Reason    string // human-readable detail, free of secrets
	Serial    string // Wechatpay-Serial of the answer, may be empty
	RequestID string // Request-ID of the answer, may be empty
	// Authentic says the signature verified although the message was
	// refused (TIMESTAMP_EXPIRED): WeChat Pay signed that timestamp, so
	// it may tell of this host's clock. An expired timestamp is checked
	// against the signature too, at the cost of one RSA verification,
	// as a fresh one is.
	Authentic bool
}

// Error implements error.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("wechatpay: response verification failed: %s: %s (serial=%q, request-id=%q)",
		e.Code, e.Reason, e.Serial, e.RequestID)
}

// Signed is what a verified signature covered besides the body, as the
// verifier read it.
type Signed struct {
	Serial    string
	Timestamp int64 // unix seconds, WeChat Pay's clock
	Nonce     string
}

// Verify checks the signature of a response or callback with the given
// header and body. It returns nil or a *VerifyError.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	_, err := v.Check(header, body)
	return err
}

// Check is Verify, returning what the signature covered.
func (v *Verifier) Check(header http.Header, body []byte) (Signed, error) {
	tsText := strings.TrimSpace(header.Get("Wechatpay-Timestamp"))
	nonce := strings.TrimSpace(header.Get("Wechatpay-Nonce"))
	sig := strings.TrimSpace(header.Get("Wechatpay-Signature"))
	serial := strings.TrimSpace(header.Get("Wechatpay-Serial"))
	refusal := func(code, reason string) *VerifyError {
		return &VerifyError{Code: code, Reason: reason, Serial: serial,
			RequestID: strings.TrimSpace(header.Get("Request-ID"))}
	}
	fail := func(code, reason string) (Signed, error) {
		return Signed{}, refusal(code, reason)
	}

	switch {
	case tsText == "":
		return fail(CodeSignatureMissing, "missing Wechatpay-Timestamp header")
	case nonce == "":
		return fail(CodeSignatureMissing, "missing Wechatpay-Nonce header")
	case sig == "":
		return fail(CodeSignatureMissing, "missing Wechatpay-Signature header")
	case serial == "":
		return fail(CodeSignatureMissing, "missing Wechatpay-Serial header")
	}
	if strings.HasPrefix(sig, ProbeSignaturePrefix) {
		return fail(CodeSignatureProbe, "probe signature from WeChat Pay")
	}
	key, ok := v.keys[serial]
	if !ok {
		return fail(CodeSerialUnknown, "no key configured for this serial")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fail(CodeTimestampInvalid, "Wechatpay-Timestamp is not an integer")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	// |now-ts| >= maxSkew, written so that no subtraction can overflow
	// (now is a real clock, far from the int64 limits; a test clock must be too).
	var expired *VerifyError
	if n := now().Unix(); ts <= n-v.maxSkew || ts >= n+v.maxSkew {
		expired = refusal(CodeTimestampExpired, "timestamp "+strconv.FormatInt(ts, 10)+
			" is 5 minutes or more away from now "+strconv.FormatInt(n, 10))
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		if expired != nil {
			return Signed{}, expired
		}
		return fail(CodeSignatureInvalid, "signature is not base64")
	}

	// Message: TIMESTAMP "\n" NONCE "\n" BODY "\n", hashed piecewise so the
	// body is never copied.
	var buf [128]byte
	prefix := strconv.AppendInt(buf[:0], ts, 10)
	prefix = append(prefix, '\n')
	prefix = append(prefix, nonce...)
	prefix = append(prefix, '\n')
	var sum [sha256.Size]byte
	hashed := messageDigest(prefix, body, &sum)
	if err := key.VerifyPKCS1v15SHA256(hashed, raw); err != nil {
		if expired != nil {
			return Signed{}, expired
		}
		return fail(CodeSignatureInvalid, "signature does not verify")
	}
	if expired != nil {
		// Refused all the same, but WeChat Pay did sign it: only then
		// may its timestamp say something about this host's clock.
		expired.Authentic = true
		return Signed{}, expired
	}
	if v.Window != nil {
		switch v.Window.Seen(serial, ts, nonce) {
		case replay.Fresh:
		case replay.Replay:
			return fail(CodeSignatureReplayed, "this signature (serial, timestamp, nonce) was accepted before: a replay")
		case replay.Full:
			return fail(CodeReplayWindowFull, "the window of signatures seen is full; a replay could not be recognised")
		default: // out of the window, or older than it remembers (a clock set back)
			old := refusal(CodeTimestampExpired, "timestamp "+strconv.FormatInt(ts, 10)+" is older than the replay window remembers")
			old.Authentic = true
			return Signed{}, old
		}
	}
	return Signed{Serial: serial, Timestamp: ts, Nonce: nonce}, nil
}

// AsVerifyError returns err, from Verify, as a *VerifyError; an error of
// another kind (Verify returns none today) becomes SIGNATURE_INVALID, so a
// caller that reads the code always refuses.
func AsVerifyError(err error) *VerifyError {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve
	}
	return &VerifyError{Code: CodeSignatureInvalid, Reason: "signature does not verify"}
}

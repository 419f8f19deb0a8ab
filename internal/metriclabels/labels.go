package metriclabels

import (
	"net/http"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// The outcomes and the closed sets of the other labels.
const (
	// Verified: WeChat Pay's answer was verified and passed on.
	Verified = "verified"
	// Unverified: the answer passed unverified (an unsigned
	// download, a skip_verify path, verify_responses off).
	Unverified = "unverified"
	// Signed: the proxy signed a payment invocation again
	// (/wechatpay/request-payment); nothing went to WeChat Pay.
	Signed = "signed"
	// Delivered: the app acknowledged the callback.
	Delivered = "delivered"
	// Duplicate: the resend of an acknowledged callback, answered
	// without the app.
	Duplicate = "duplicate"
	// AppFailed: the app did not acknowledge the callback (WeChat
	// Pay sends it again).
	AppFailed = "app_failed"
	// Other stands for any value outside a label's closed set: a path
	// that is no known template, a code the module does not answer with, an
	// event type that is not shaped like one.
	Other = "other"
	// MethodOther is the method label of a method WeChat Pay does not use.
	MethodOther = "OTHER"

	// The outcomes of a platform certificate download.
	DownloadOK       = "ok"
	DownloadNotFound = "not_found" // WeChat Pay has none: the merchant uses the public key
	DownloadFailed   = "failed"

	// The outcomes of a key reload through the admin API.
	ReloadOK     = "ok"
	ReloadFailed = "failed"
)

// VerifyCodes are the codes of an answer or callback that fails
// verification: response_verification_failures_total starts at 0 for each.
var VerifyCodes = []string{apiv3.CodeSignatureMissing, apiv3.CodeSignatureProbe, apiv3.CodeSerialUnknown,
	apiv3.CodeTimestampInvalid, apiv3.CodeTimestampExpired, apiv3.CodeSignatureInvalid,
	apiv3.CodeSignatureReplayed, apiv3.CodeReplayWindowFull}

// Method returns the method label: the methods WeChat Pay's APIv3
// uses and HEAD, else MethodOther.
func Method(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodHead:
		return http.MethodHead
	}
	return MethodOther
}

// maxEventType bounds the event_type label; WeChat Pay's are far shorter
// (TRANSACTION.SUCCESS, REFUND.ABNORMAL, ...).
const maxEventType = 64

// EventType returns a verified callback's event_type as a label value
// when it is shaped like WeChat Pay's (upper-case letters, digits, '.' and
// '_'), else Other: the set is WeChat Pay's, and it signs each one, but
// a label must stay small whatever arrives. An empty one stays empty.
func EventType(t string) string {
	if len(t) > maxEventType {
		return Other
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_') {
			return Other
		}
	}
	return t
}

// Download returns the outcome label of a certificate download that
// ended with err.
func Download(err error, notFound bool) string {
	switch {
	case notFound:
		return DownloadNotFound
	case err != nil:
		return DownloadFailed
	}
	return DownloadOK
}

// Outcomes is the closed set of the outcome label: the outcomes above and
// the refusal codes a client can be answered with.
type Outcomes map[string]bool

// NewOutcomes returns the outcome label's set: the outcomes above and codes.
func NewOutcomes(codes ...string) Outcomes {
	known := Outcomes{Verified: true, Unverified: true, Signed: true, Delivered: true, Duplicate: true, AppFailed: true}
	for _, c := range codes {
		known[c] = true
	}
	return known
}

// Label returns the outcome label of an outcome or code: itself when
// known, else Other.
func (o Outcomes) Label(outcome string) string {
	if o[outcome] {
		return outcome
	}
	return Other
}

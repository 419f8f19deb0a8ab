package wechatpay

import (
	"net/http"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/notification"
)

// The values of the metrics' labels besides the refusal codes and the
// endpoint templates. Every label value comes from the configuration, from
// a closed set below, or (event_type) from a callback WeChat Pay signed,
// checked for shape: never a raw path, a query, a body value or a key.
const (
	// outcomeVerified: WeChat Pay's answer was verified and passed on.
	outcomeVerified = "verified"
	// outcomeUnverified: the answer passed unverified (an unsigned
	// download, a skip_verify path, verify_responses off).
	outcomeUnverified = "unverified"
	// outcomeSigned: the proxy signed a payment invocation again
	// (/wechatpay/request-payment); nothing went to WeChat Pay.
	outcomeSigned = "signed"
	// outcomeDelivered: the app acknowledged the callback.
	outcomeDelivered = "delivered"
	// outcomeDuplicate: the resend of an acknowledged callback, answered
	// without the app.
	outcomeDuplicate = "duplicate"
	// outcomeAppFailed: the app did not acknowledge the callback (WeChat
	// Pay sends it again).
	outcomeAppFailed = "app_failed"
	// labelOther stands for any value outside a label's closed set: a path
	// that is no known template, a code the module does not answer with, an
	// event type that is not shaped like one.
	labelOther = "other"
	// methodOther is the method label of a method WeChat Pay does not use.
	methodOther = "OTHER"

	// The outcomes of a platform certificate download.
	downloadOK       = "ok"
	downloadNotFound = "not_found" // WeChat Pay has none: the merchant uses the public key
	downloadFailed   = "failed"

	// The outcomes of a key reload through the admin API.
	reloadOK     = "ok"
	reloadFailed = "failed"
)

// outcomeCodes are the codes a client (or WeChat Pay, for a callback) can
// be answered with: the module's own (errors.go), the verifier's and the
// callback parser's. They are the outcome label's closed set, with the
// outcomes above.
var outcomeCodes = []string{
	codeParamError, codeBodyTooLarge, codeUnsupportedEncoding, codeNotFound, codeProxyError,
	codeBrowserRequestRefused, codeHostNotAllowed, codeUnsupportedMediaType,
	codeResponseTooLarge, codeResponseUnreadable, codeResponseDecryptFailed,
	codeUpstreamUnreachable, codeUpstreamTimeout, codeUpstreamIncomplete, codeUpstreamError,
	codeBillHashMismatch, codeBillTooLarge, codeBillUnverified,
	codeNoUpstream, codeMerchantUnknown,
	codeClientClosedRequest, codeMethodNotAllowed, codeSignatureTypeUnsupported,
	apiv3.CodeSignatureMissing, apiv3.CodeSignatureProbe, apiv3.CodeSerialUnknown,
	apiv3.CodeTimestampInvalid, apiv3.CodeTimestampExpired, apiv3.CodeSignatureInvalid,
	apiv3.CodeSignatureReplayed, apiv3.CodeReplayWindowFull,
	notification.CodeNotificationMalformed, notification.CodeAlgorithmUnsupported, notification.CodeDecryptFailed,
}

// verifyCodes are the codes of an answer or callback that fails
// verification: response_verification_failures_total starts at 0 for each.
var verifyCodes = []string{apiv3.CodeSignatureMissing, apiv3.CodeSignatureProbe, apiv3.CodeSerialUnknown,
	apiv3.CodeTimestampInvalid, apiv3.CodeTimestampExpired, apiv3.CodeSignatureInvalid,
	apiv3.CodeSignatureReplayed, apiv3.CodeReplayWindowFull}

var knownOutcomes = func() map[string]bool {
	known := map[string]bool{outcomeVerified: true, outcomeUnverified: true, outcomeSigned: true,
		outcomeDelivered: true, outcomeDuplicate: true, outcomeAppFailed: true}
	for _, c := range outcomeCodes {
		known[c] = true
	}
	return known
}()

// outcomeLabel returns the outcome label of an outcome or code: itself when
// known, else labelOther.
func outcomeLabel(outcome string) string {
	if knownOutcomes[outcome] {
		return outcome
	}
	return labelOther
}

// methodLabel returns the method label: the methods WeChat Pay's APIv3
// uses and HEAD, else methodOther.
func methodLabel(m string) string {
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
	return methodOther
}

// maxEventType bounds the event_type label; WeChat Pay's are far shorter
// (TRANSACTION.SUCCESS, REFUND.ABNORMAL, ...).
const maxEventType = 64

// eventTypeLabel returns a verified callback's event_type as a label value
// when it is shaped like WeChat Pay's (upper-case letters, digits, '.' and
// '_'), else labelOther: the set is WeChat Pay's, and it signs each one, but
// a label must stay small whatever arrives. An empty one stays empty.
func eventTypeLabel(t string) string {
	if len(t) > maxEventType {
		return labelOther
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_') {
			return labelOther
		}
	}
	return t
}

// downloadOutcome returns the outcome label of a certificate download that
// ended with err.
func downloadOutcome(err error, notFound bool) string {
	switch {
	case notFound:
		return downloadNotFound
	case err != nil:
		return downloadFailed
	}
	return downloadOK
}

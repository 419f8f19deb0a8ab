package wechatpay

import (
	"slices"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/notification"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"
)

// WeChat Pay's refusals: a signed answer with a 4xx or 5xx status, which
// the proxy verifies and passes on as WeChat Pay's own (requests_total
// counts it verified). caddy_wechatpay_upstream_refusals_total counts them
// by status class and WeChat Pay's code, from a closed list.

// wechatPayCodes are the error codes WeChat Pay documents: those of its
// HTTP status table (https://pay.weixin.qq.com/wiki/doc/apiv3/Share/error_code.shtml)
// and the common ones of its endpoints' error tables. Any other code
// counts as metriclabels.Other: the label never takes a free string.
var wechatPayCodes = map[string]bool{
	"PARAM_ERROR": true, "INVALID_REQUEST": true, "SIGN_ERROR": true, "NO_AUTH": true,
	"ORDER_NOT_EXIST": true, "ORDERNOTEXIST": true, "RESOURCE_NOT_EXISTS": true, "NOT_FOUND": true,
	"RATELIMIT_EXCEEDED": true, "RATE_LIMITED": true, "FREQUENCY_LIMITED": true,
	"SYSTEM_ERROR": true, "SYSTEMERROR": true, "SERVICE_UNAVAILABLE": true, "BANK_ERROR": true,
	"APPID_MCHID_NOT_MATCH": true, "MCH_NOT_EXISTS": true, "OUT_TRADE_NO_USED": true,
	"ORDER_CLOSED": true, "NOT_ENOUGH": true, "NOTENOUGH": true, "RESOURCE_ALREADY_EXISTS": true,
	"RULE_LIMIT": true, "TRADE_ERROR": true, "ACCOUNT_ERROR": true, "USER_ACCOUNT_ABNORMAL": true,
	"INVALID_TRANSACTIONID": true,
}

// wechatPaySignError is WeChat Pay's refusal of a request signature (401): a
// wrong serial_no or private_key, the first failure after a rotation.
const wechatPaySignError = "SIGN_ERROR"

// The status classes of a refusal.
const (
	class4xx = "4xx"
	class5xx = "5xx"
)

// newRefusalsCounter is caddy_wechatpay_upstream_refusals_total.
func newRefusalsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "upstream_refusals_total",
		Help: "Signed (verified) answers of WeChat Pay with a 4xx or 5xx status, by merchant, status class " +
			"(4xx, 5xx) and WeChat Pay's code (a documented code, else other).",
	}, []string{"merchant", "class", "code"})
}

// startRefusals starts at 0 the refusal series an alert watches, so that
// increase() sees the first one.
func startRefusals(c *prometheus.CounterVec) {
	c.WithLabelValues(class4xx, wechatPaySignError)
	c.WithLabelValues(class4xx, metriclabels.Other)
	c.WithLabelValues(class5xx, metriclabels.Other)
}

// refusal counts a verified answer with status >= 400 and its body.
func (m *handlerMetrics) refusal(status int, body []byte) {
	if m == nil || status < 400 || m.refusals == nil {
		return
	}
	class := class4xx
	if status >= 500 {
		class = class5xx
	}
	code := gjson.GetBytes(body, "code").Str
	if !wechatPayCodes[code] {
		code = metriclabels.Other
	}
	m.refusals.WithLabelValues(class, code).Inc()
}

// callbackRefusalCodes are the refusals of a callback that the
// WeChatPayCallbacksRefused alert watches: each starts at 0 (event_type
// empty, as refusals are counted) so that increase() sees the first.
var callbackRefusalCodes = append(slices.Clone(metriclabels.VerifyCodes), notification.CodeDecryptFailed)

// start starts the watched refusal series at 0.
func (m *notifyMetrics) start() {
	if m == nil {
		return
	}
	for _, code := range callbackRefusalCodes {
		m.callbacks.WithLabelValues("", outcomes.Label(code))
	}
}

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

// outcomes is the outcome label's closed set.
var outcomes = metriclabels.NewOutcomes(outcomeCodes...)

package integration

// The names the module documents for apps and operators, written out here
// as the docs give them, apart from the module's code.
const (
	// Headers the callback handler sets on the request the app gets.
	notificationIDHeader = "Wechatpay-Notification-Id"
	eventTypeHeader      = "Wechatpay-Event-Type"

	// Codes of the proxy's own refusals (docs/requests.md).
	codeParamError            = "PARAM_ERROR"
	codeResponseTooLarge      = "RESPONSE_TOO_LARGE"
	codeResponseDecryptFailed = "RESPONSE_DECRYPT_FAILED"
	codeUpstreamUnreachable   = "UPSTREAM_UNREACHABLE"
	codeUpstreamTimeout       = "UPSTREAM_TIMEOUT"
	codeUpstreamIncomplete    = "UPSTREAM_INCOMPLETE"
	codeUpstreamError         = "UPSTREAM_ERROR"

	// maxResponseBody is how much of a response the proxy buffers to
	// verify: 16 MiB (docs/verification.md).
	maxResponseBody = 16 << 20
)

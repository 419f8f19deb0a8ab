package proxyhttp

// The codes of the refusals this package reports, in WeChat Pay's error
// shape ({"code": ..., "message": ...}); the handler answers with them.
const (
	// CodeParamError: the body cannot be read (bad gzip, cut short).
	CodeParamError = "PARAM_ERROR"
	// CodeBodyTooLarge: the body is over the bound (max_body).
	CodeBodyTooLarge = "REQUEST_BODY_TOO_LARGE"
	// CodeUnsupportedEncoding: a Content-Encoding that cannot be decoded.
	CodeUnsupportedEncoding = "UNSUPPORTED_CONTENT_ENCODING"
	// CodeUnsupportedMediaType: a body type a web page can send unasked.
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	// CodeBrowserRequestRefused: the request carries a header only web
	// browsers send (Origin, Sec-Fetch-Site).
	CodeBrowserRequestRefused = "BROWSER_REQUEST_REFUSED"
	// CodeHostNotAllowed: a plain-HTTP request's Host is not an IP literal,
	// localhost or an allow_hosts name.
	CodeHostNotAllowed = "HOST_NOT_ALLOWED"
	// CodeResponseTooLarge: WeChat Pay's answer is too large to buffer and
	// verify.
	CodeResponseTooLarge = "RESPONSE_TOO_LARGE"
	// CodeResponseUnreadable: WeChat Pay's answer has a content coding that
	// cannot be decoded for verification.
	CodeResponseUnreadable = "RESPONSE_UNREADABLE"
	// CodeNotFound: the path is not a WeChat Pay API path the proxy forwards.
	CodeNotFound = "NOT_FOUND"
)

// Refusal is why a request (or an answer) is turned away: the status to answer, a code
// (Code*), a message that quotes no value, and the field concerned.
type Refusal struct {
	Status  int
	Code    string
	Message string
	Field   string
	// Cause is why the answer could not be read, for the log only.
	Cause error
	// CloseConnection asks for Connection: close, when a body the client
	// announced was left unread.
	CloseConnection bool
}

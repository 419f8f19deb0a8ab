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
	// CodeNotFound: the path is not a WeChat Pay API path the proxy forwards.
	CodeNotFound = "NOT_FOUND"
)

// Refusal is why a request is turned away: the status to answer, a code
// (Code*), a message that quotes no value, and the field concerned.
type Refusal struct {
	Status  int
	Code    string
	Message string
	Field   string
	// CloseConnection asks for Connection: close, when a body the client
	// announced was left unread.
	CloseConnection bool
}

package wechatpay

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
)

// Error codes the proxy answers with. They use WeChat Pay's error shape,
// {"code": ..., "message": ...}, so that an app that handles WeChat Pay's
// errors handles the proxy's too.
const (
	// codeParamError: the request cannot be sent as it is (bad JSON, a
	// sensitive field of the wrong type, ...); the message names the field.
	codeParamError = proxyhttp.CodeParamError
	// codeBodyTooLarge: the request body is over max_body.
	codeBodyTooLarge = proxyhttp.CodeBodyTooLarge
	// codeUnsupportedEncoding: the request body has a Content-Encoding the
	// proxy cannot decode.
	codeUnsupportedEncoding = proxyhttp.CodeUnsupportedEncoding
	// codeBrowserRequestRefused: the request carries a header only web
	// browsers send (Origin, Sec-Fetch-Site) (403).
	codeBrowserRequestRefused = proxyhttp.CodeBrowserRequestRefused
	// codeHostNotAllowed: a plain-HTTP request's Host is not an IP
	// literal, localhost or an allow_hosts name (403).
	codeHostNotAllowed = proxyhttp.CodeHostNotAllowed
	// codeUnsupportedMediaType: the request body's Content-Type is one a
	// web page can send without asking, text/plain, or multipart off the
	// media upload paths (415).
	codeUnsupportedMediaType = proxyhttp.CodeUnsupportedMediaType
	// codeNotFound: the path is not a WeChat Pay API path the proxy forwards.
	codeNotFound = proxyhttp.CodeNotFound
	// codeProxyError: the proxy itself failed (randomness, signing).
	codeProxyError = "PROXY_ERROR"
	// codeResponseTooLarge: WeChat Pay's response is too large to buffer and
	// verify (502).
	codeResponseTooLarge = proxyhttp.CodeResponseTooLarge
	// codeResponseUnreadable: WeChat Pay's response has a content coding that
	// cannot be decoded for verification (502).
	codeResponseUnreadable = proxyhttp.CodeResponseUnreadable
	// codeResponseDecryptFailed: with decrypt_responses, a field of WeChat
	// Pay's verified response could not be decrypted (502).
	codeResponseDecryptFailed = "RESPONSE_DECRYPT_FAILED"
	// codeUpstreamUnreachable: WeChat Pay could not be reached or the
	// connection failed before a response (502).
	codeUpstreamUnreachable = "UPSTREAM_UNREACHABLE"
	// codeUpstreamTimeout: WeChat Pay did not answer in time (504).
	codeUpstreamTimeout = "UPSTREAM_TIMEOUT"
	// codeUpstreamIncomplete: WeChat Pay's response was cut short (502).
	codeUpstreamIncomplete = "UPSTREAM_INCOMPLETE"
	// codeUpstreamError: an error response (status >= 400) that does not
	// verify and is passed on unverified, such as a gateway's HTML page or
	// an unsigned JSON error; the status is WeChat Pay's (or the gateway's).
	codeUpstreamError = "UPSTREAM_ERROR"
	// codeBillHashMismatch: a bill download does not match the digest of
	// its verified list answer, or an encrypted bill does not open (502).
	codeBillHashMismatch = "BILL_HASH_MISMATCH"
	// codeBillTooLarge: a bill download is over max_bill_size (502).
	codeBillTooLarge = "BILL_TOO_LARGE"
	// codeBillUnverified: a bill download URL that no verified answer
	// through the proxy (or its cluster) named, or whose record expired (502).
	codeBillUnverified = "BILL_UNVERIFIED"
	// codeNoUpstream: no handler after wechatpay answered (no
	// reverse_proxy): nothing was sent to WeChat Pay (502).
	codeNoUpstream = "NO_UPSTREAM"
	// codeMerchantUnknown: the merchant placeholder resolved to nothing,
	// or to a name that is no merchant of the wechatpay app (400).
	codeMerchantUnknown = "MERCHANT_UNKNOWN"
	// codeClientClosedRequest: the client went away before the answer (499);
	// for the log and the metrics, since nobody is left to read it.
	codeClientClosedRequest = "CLIENT_CLOSED_REQUEST"
	// codeMethodNotAllowed: a route the proxy answers itself (a callback,
	// the payment re-signing) asked with a method other than POST (405).
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	// codeSignatureTypeUnsupported: a callback whose
	// Wechatpay-Signature-Type is not WECHATPAY2-SHA256-RSA2048 (401).
	codeSignatureTypeUnsupported = "SIGNATURE_TYPE_UNSUPPORTED"
)

// The 502 refusals of a response that fails verification carry the codes of
// the verifier (internal/apiv3, Code*): SIGNATURE_MISSING, SIGNATURE_PROBE,
// SERIAL_UNKNOWN, TIMESTAMP_INVALID, TIMESTAMP_EXPIRED, SIGNATURE_INVALID,
// SIGNATURE_REPLAYED and REPLAY_WINDOW_FULL.

// apiError is a refusal answered instead of what was asked for: to a client
// of the wechatpay handler, or to WeChat Pay by wechatpay_notify (which
// wraps it in its FAIL answer). It is deliberately not an error: it travels as *apiError, and nil
// means no refusal, so no nil *apiError can turn into a non-nil error.
type apiError struct {
	status  int
	code    string
	message string
	field   string // the field concerned, for the log; never its value
	// cause is why the proxy failed (a 5xx of its own), for the log only:
	// an error that quotes no key material and no field value.
	cause error
	// closeConnection asks for Connection: close, when a body the client
	// announced was left unread.
	closeConnection bool
}

func paramError(err error) *apiError {
	ae := &apiError{status: http.StatusBadRequest, code: codeParamError, message: err.Error()}
	var fe *jsonfield.Error
	if errors.As(err, &fe) {
		ae.field = fe.Field
	}
	return ae
}

// refused is the refusal to answer for what internal/proxyhttp turned away
// (nil for nil).
func refused(r *proxyhttp.Refusal) *apiError {
	if r == nil {
		return nil
	}
	return &apiError{status: r.Status, code: r.Code, message: r.Message, field: r.Field, cause: r.Cause, closeConnection: r.CloseConnection}
}

// errorBody is WeChat Pay's error shape.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers a JSON error in WeChat Pay's shape.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(errorBody{Code: code, Message: message})
	writeJSON(w, status, body)
}

// writeJSON answers the handler's own JSON body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

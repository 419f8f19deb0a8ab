package wechatpay

import (
	"errors"
	"net/http"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/catalog"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/sensitive"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/upload"
)

// outgoingBody is the body that goes upstream and what its signature
// covers.
type outgoingBody struct {
	bytes       []byte // sent as they are
	contentType string // application/json, or a media upload's multipart type with its boundary
	signed      []byte // the body in the signature: bytes, or a media upload's meta part
	// readBufferFree says the buffer the body was read into is not what
	// goes upstream (an encrypted copy replaced it, or it was empty), so
	// it may go back to the pool when the handler returns. Otherwise the
	// transport owns it: it may read it after reverse_proxy returns.
	readBufferFree bool
}

// encryptRequest encrypts the sensitive body fields and query parameters of
// the route, rewriting r's query in place, and returns the body to send and
// how many values were encrypted. A multipart body (a media upload) is sent
// as it is and signed over its meta part.
func encryptRequest(r *http.Request, rt *catalog.Route, body []byte, encrypter *sensitive.Encrypter) (outgoingBody, int, *apiError) {
	out := outgoingBody{bytes: body, contentType: "application/json", signed: body, readBufferFree: len(body) == 0}
	fail := func(err error) (outgoingBody, int, *apiError) {
		var fe *jsonfield.Error
		if errors.As(err, &fe) {
			return outgoingBody{}, 0, paramError(fe)
		}
		return outgoingBody{}, 0, &apiError{status: http.StatusInternalServerError, code: codeProxyError, message: "encrypting a sensitive field failed", cause: err}
	}
	n := 0
	if ct := r.Header.Get("Content-Type"); upload.IsMultipart(ct) {
		if rt != nil && (rt.Body != nil || rt.Query != nil) {
			// Its sensitive fields could be in any part (a server may
			// read form fields as query parameters too), and would go
			// out as sent.
			return fail(&jsonfield.Error{Reason: "this endpoint has sensitive fields, which the proxy encrypts in a JSON body or the query only; a multipart body is refused"})
		}
		meta, err := upload.Meta(ct, body)
		if err != nil {
			return fail(err)
		}
		out.contentType, out.signed = ct, meta
	} else if rt != nil && rt.Body != nil && (rt.Method != "*" || len(body) > 0) {
		// A route's own method needs a JSON body; another method on the
		// same path (rt.Method "*") may come without one, and then has
		// nothing to encrypt.
		encrypted, nb, err := encrypter.EncryptFields(body, rt.Body)
		if err != nil {
			return fail(err)
		}
		out.bytes, out.signed, n = encrypted, encrypted, nb
		out.readBufferFree = nb > 0 // EncryptFields copies the body only to encrypt
	} else if rt != nil && rt.Query != nil && len(body) > 0 {
		// The sensitive fields are query parameters, which a form body
		// could carry too (a server may read form fields as parameters):
		// as on endpoints with body fields, only a JSON object passes.
		if _, err := jsonfield.Find(body, nil); err != nil {
			return fail(&jsonfield.Error{Reason: "body must be a JSON object: this endpoint's sensitive fields are query parameters, which a form or other body would carry in plaintext"})
		}
	}
	if rt != nil && rt.Query != nil && r.URL.RawQuery != "" {
		q, nq, err := encrypter.EncryptQuery(r.URL.RawQuery, rt.Query)
		if err != nil {
			return fail(err)
		}
		r.URL.RawQuery, r.URL.ForceQuery = q, r.URL.ForceQuery && q == ""
		// Loggers after this handler (reverse_proxy's, at DEBUG) print
		// RequestURI: it must not keep the plaintext either.
		r.RequestURI = r.URL.RequestURI()
		n += nq
	}
	return out, n, nil
}

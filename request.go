package wechatpay

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// modulePath is this module's import path, used to find its version.
const modulePath = "github.com/caddy-wechatpay/caddy-wechatpay"

// outgoingBody is the body that goes upstream and what its signature
// covers.
type outgoingBody struct {
	bytes       []byte // sent as they are
	contentType string // application/json, or a media upload's multipart type with its boundary
	signed      []byte // the body in the signature: bytes, or a media upload's meta part
}

// encryptRequest encrypts the sensitive body fields and query parameters of
// the route, rewriting r's query in place, and returns the body to send and
// how many values were encrypted. A multipart body (a media upload) is sent
// as it is and signed over its meta part.
func encryptRequest(r *http.Request, rt *route, body []byte, encrypter *FieldEncrypter) (outgoingBody, int, *apiError) {
	out := outgoingBody{bytes: body, contentType: "application/json", signed: body}
	fail := func(err error) (outgoingBody, int, *apiError) {
		var fe *FieldError
		if errors.As(err, &fe) {
			return outgoingBody{}, 0, paramError(fe)
		}
		return outgoingBody{}, 0, &apiError{status: http.StatusInternalServerError, code: CodeProxyError, message: "encrypting a sensitive field failed"}
	}
	n := 0
	if ct := r.Header.Get("Content-Type"); IsMultipart(ct) {
		if rt != nil && (rt.body != nil || rt.query != nil) {
			// Its sensitive fields could be in any part (a server may
			// read form fields as query parameters too), and would go
			// out as sent.
			return fail(&FieldError{Reason: "this endpoint has sensitive fields, which the proxy encrypts in a JSON body or the query only; a multipart body is refused"})
		}
		meta, err := UploadMeta(ct, body)
		if err != nil {
			return fail(err)
		}
		out.contentType, out.signed = ct, meta
	} else if rt != nil && rt.body != nil && (rt.method != "*" || len(body) > 0) {
		// A route's own method needs a JSON body; another method on the
		// same path (rt.method "*") may come without one, and then has
		// nothing to encrypt.
		encrypted, nb, err := encrypter.EncryptFields(body, rt.body)
		if err != nil {
			return fail(err)
		}
		out.bytes, out.signed, n = encrypted, encrypted, nb
	} else if rt != nil && rt.query != nil && len(body) > 0 {
		// The sensitive fields are query parameters, which a form body
		// could carry too (a server may read form fields as parameters):
		// as on endpoints with body fields, only a JSON object passes.
		if _, err := scanSensitive(body, nil); err != nil {
			return fail(&FieldError{Reason: "body must be a JSON object: this endpoint's sensitive fields are query parameters, which a form or other body would carry in plaintext"})
		}
	}
	if rt != nil && rt.query != nil && r.URL.RawQuery != "" {
		q, nq, err := encrypter.EncryptQuery(r.URL.RawQuery, rt.query)
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

// signRequest makes r ready for WeChat Pay: body replaced by out with the
// right length and type, the client's Authorization dropped, Wechatpay-Serial,
// Accept, Content-Type and User-Agent set, and the request signed over
// exactly the method, URI and body (a media upload: its meta part) that
// reverse_proxy will send.
func (h *Handler) signRequest(r *http.Request, out outgoingBody, keys *keySet) error {
	hdr := r.Header
	hdr.Del("Authorization")
	// Hop-by-hop removal after this handler would drop any header the
	// client named in Connection, signed ones included.
	hdr.Del("Connection")
	hdr.Del("Content-Encoding") // the body was decoded when read
	hdr.Del("Transfer-Encoding")
	// The headers set here share one backing array, each value a slice of
	// its own capacity 1, so that an append elsewhere copies it.
	vals := make([]string, 6)
	set := func(key, value string) {
		vals[0] = value
		hdr[key] = vals[:1:1]
		vals = vals[1:]
	}
	set("Wechatpay-Serial", keys.serial)
	set("Accept", "application/json")
	// Let the transport ask for gzip and decode it, so that answers are
	// verified on the bytes WeChat Pay signed; a client's br or zstd could
	// not be decoded here.
	hdr.Del("Accept-Encoding")
	set("User-Agent", h.userAgent)
	r.TransferEncoding = nil
	r.Trailer = nil
	if len(out.bytes) == 0 {
		r.Body = http.NoBody
		r.ContentLength = 0
		hdr.Del("Content-Type")
		hdr.Del("Content-Length")
	} else {
		r.Body = io.NopCloser(bytes.NewReader(out.bytes))
		r.ContentLength = int64(len(out.bytes))
		set("Content-Type", out.contentType)
		set("Content-Length", strconv.Itoa(len(out.bytes)))
	}
	r.GetBody = nil

	nonce, err := NewNonce()
	if err != nil {
		return err
	}
	auth, err := keys.signer.Authorization(r.Method, r.URL.RequestURI(), time.Now().Unix(), nonce, out.signed)
	if err != nil {
		return err
	}
	set("Authorization", auth)
	return nil
}

// userAgent names the module and its version, as WeChat Pay requires a
// User-Agent and its support staff ask which client sent a request.
func userAgent() string {
	return "caddy-wechatpay/" + moduleVersion() + " (+Caddy)"
}

// moduleVersion is this module's version as the build recorded it, or
// "devel" for a build from a working tree.
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	version := ""
	if info.Main.Path == modulePath {
		version = info.Main.Version
	}
	for _, dep := range info.Deps {
		if dep.Path == modulePath {
			version = dep.Version
			if dep.Replace != nil {
				version = dep.Replace.Version
			}
		}
	}
	// Local builds: "(devel)", the zero pseudo-version xcaddy.sh pins, or none.
	if version == "" || version == "(devel)" || strings.HasPrefix(version, "v0.0.0-00010101000000-") {
		return "devel"
	}
	return version
}

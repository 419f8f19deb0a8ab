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

// encryptRequest encrypts the sensitive body fields and query parameters of
// the route, rewriting r's query in place, and returns the body to send and
// how many values were encrypted.
func encryptRequest(r *http.Request, rt *route, body []byte, encrypter *FieldEncrypter) ([]byte, int, *apiError) {
	if rt == nil {
		return body, 0, nil
	}
	fail := func(err error) ([]byte, int, *apiError) {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, 0, paramError(fe)
		}
		return nil, 0, &apiError{status: http.StatusInternalServerError, code: CodeProxyError, message: "encrypting a sensitive field failed"}
	}
	n := 0
	// A route's own method needs a JSON body; another method on the same
	// path (rt.method "*") may come without one, and then has nothing to
	// encrypt.
	if rt.body != nil && (rt.method != "*" || len(body) > 0) {
		var err error
		if body, n, err = encrypter.EncryptFields(body, rt.body); err != nil {
			return fail(err)
		}
	}
	if rt.query != nil && r.URL.RawQuery != "" {
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
	return body, n, nil
}

// signRequest makes r ready for WeChat Pay: body replaced by out with the
// right length, the client's Authorization dropped, Wechatpay-Serial,
// Accept, Content-Type and User-Agent set, and the request signed over
// exactly the method, URI and body that reverse_proxy will send.
func (h *Handler) signRequest(r *http.Request, out []byte, keys *keySet) error {
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
	if len(out) == 0 {
		r.Body = http.NoBody
		r.ContentLength = 0
		hdr.Del("Content-Type")
		hdr.Del("Content-Length")
	} else {
		r.Body = io.NopCloser(bytes.NewReader(out))
		r.ContentLength = int64(len(out))
		set("Content-Type", "application/json")
		set("Content-Length", strconv.Itoa(len(out)))
	}
	r.GetBody = nil

	nonce, err := NewNonce()
	if err != nil {
		return err
	}
	auth, err := keys.signer.Authorization(r.Method, r.URL.RequestURI(), time.Now().Unix(), nonce, out)
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

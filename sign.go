package wechatpay

import (
	"bytes"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// modulePath is this module's import path, used to find its version.
const modulePath = "github.com/caddy-wechatpay/caddy-wechatpay"

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
	values := new(headerValues) // one allocation for the headers set here; hdr owns it
	set := func(key, value string) { values.set(hdr, key, value) }
	set("Wechatpay-Serial", keys.serial)
	set("Accept", "application/json")
	// Let the transport ask for gzip and decode it, so that responses are
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

	nonce, err := apiv3.NewNonce()
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

// headerValues holds the values of the headers signRequest sets, in one
// allocation. Each value goes into the header as a slice of its own, of
// capacity 1, so that a handler that appends to one copies it instead of
// writing over its neighbour. The request's header owns it.
type headerValues struct {
	values [6]string
	used   int
}

func (v *headerValues) set(h http.Header, key, value string) {
	if v.used == len(v.values) { // a header added here without growing values
		h[key] = []string{value}
		return
	}
	v.values[v.used] = value
	h[key] = v.values[v.used : v.used+1 : v.used+1]
	v.used++
}

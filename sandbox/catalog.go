package sandbox

import (
	_ "embed"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/reference"
)

// Endpoint is one WeChat Pay APIv3 endpoint whose documented fields are
// RSA-encrypted, as listed in the reference file
// internal/reference/wechatpay-sensitive-fields.json.
type Endpoint = reference.SensitiveEndpoint

var catalog = reference.SensitiveEndpoints()

// Endpoints returns a copy of the embedded catalog of endpoints with
// sensitive fields.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(catalog))
	copy(out, catalog)
	return out
}

// MatchEndpoint finds the cataloged endpoint for a request method and URL
// path (without query). Each {param} template segment matches exactly one
// non-empty path segment; when several templates match, the one with the
// most literal segments wins. It returns the endpoint and the values of its
// path parameters, or ok=false.
func MatchEndpoint(method, path string) (ep Endpoint, params map[string]string, ok bool) {
	best := -1
	for _, e := range catalog {
		if e.Method != method {
			continue
		}
		p, literals, matched := matchTemplate(e.Path, path)
		if matched && literals > best {
			ep, params, ok, best = e, p, true, literals
		}
	}
	return ep, params, ok
}

// matchTemplate matches path against a template and counts the template's
// literal segments.
func matchTemplate(template, path string) (params map[string]string, literals int, ok bool) {
	ts := strings.Split(template, "/")
	ps := strings.Split(path, "/")
	if len(ts) != len(ps) {
		return nil, 0, false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return nil, 0, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[t[1:len(t)-1]] = ps[i]
			continue
		}
		if t != ps[i] {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, true
}

package sandbox

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

// catalogueJSON is a copy of reference/wechatpay-sensitive-fields.json.
//
//go:embed wechatpay-sensitive-fields.json
var catalogueJSON []byte

// Endpoint is one WeChat Pay APIv3 endpoint whose documented fields are
// RSA-encrypted, as listed in the embedded catalogue.
type Endpoint struct {
	// Method is the HTTP method, upper case.
	Method string `json:"method"`
	// Path is the URL path template; a segment in braces, such as
	// {sub_mchid}, matches any one path segment.
	Path string `json:"path"`
	// RequestBody lists gjson paths of body fields the caller encrypts
	// with the WeChat Pay key; "#" stands for every element of an array.
	RequestBody []string `json:"request_body"`
	// RequestQuery lists query parameters the caller encrypts.
	RequestQuery []string `json:"request_query"`
	// ResponseBody lists gjson paths of answer fields WeChat Pay encrypts
	// with the merchant certificate's public key.
	ResponseBody []string `json:"response_body"`
}

// HasSensitiveRequest reports whether the endpoint takes encrypted request
// fields (body or query), and so needs a Wechatpay-Serial header.
func (e Endpoint) HasSensitiveRequest() bool {
	return len(e.RequestBody) > 0 || len(e.RequestQuery) > 0
}

var catalogue = mustParseCatalogue(catalogueJSON)

func mustParseCatalogue(data []byte) []Endpoint {
	eps, err := parseCatalogue(data)
	if err != nil {
		panic("sandbox: embedded catalogue: " + err.Error())
	}
	return eps
}

func parseCatalogue(data []byte) ([]Endpoint, error) {
	var doc struct {
		Endpoints []Endpoint `json:"endpoints"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	for i, e := range doc.Endpoints {
		if e.Method == "" || !strings.HasPrefix(e.Path, "/") {
			return nil, fmt.Errorf("endpoint %d: bad method or path %q %q", i, e.Method, e.Path)
		}
	}
	return doc.Endpoints, nil
}

// Endpoints returns a copy of the embedded catalogue of endpoints with
// sensitive fields.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(catalogue))
	copy(out, catalogue)
	return out
}

// MatchEndpoint finds the catalogued endpoint for a request method and URL
// path (without query). Each {param} template segment matches exactly one
// non-empty path segment; when several templates match, the one with the
// most literal segments wins. It returns the endpoint and the values of its
// path parameters, or ok=false.
func MatchEndpoint(method, path string) (ep Endpoint, params map[string]string, ok bool) {
	best := -1
	for _, e := range catalogue {
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

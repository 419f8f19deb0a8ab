// Package reference holds WeChat Pay's own lists that the module is built
// from, as files: wechatpay-sensitive-fields.json (every APIv3 endpoint with
// RSA-encrypted request fields, query parameters or response fields) and
// wechatpay-endpoints.json (all documented APIv3 endpoints). The catalog
// generator, the sandbox and the metrics' endpoint labels read them here,
// through one parser each.
package reference

import (
	"bytes"
	_ "embed" // the reference files
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

//go:embed wechatpay-sensitive-fields.json
var sensitiveJSON []byte

//go:embed wechatpay-endpoints.json
var endpointsJSON []byte

// SensitiveEndpoint is one endpoint whose documented fields are
// RSA-encrypted.
type SensitiveEndpoint struct {
	// Method is the HTTP method, upper case.
	Method string `json:"method"`
	// Path is the path template; a segment in braces, such as
	// {sub_mchid}, stands for any one segment.
	Path string `json:"path"`
	// RequestBody are the request body fields the caller encrypts with
	// the WeChat Pay key, as dotted paths ("#": every array element).
	RequestBody []string `json:"request_body"`
	// RequestQuery are the query parameters the caller encrypts.
	RequestQuery []string `json:"request_query"`
	// ResponseBody are the response fields WeChat Pay encrypts with the
	// merchant certificate's key.
	ResponseBody []string `json:"response_body"`
}

// HasSensitiveRequest reports whether the endpoint takes encrypted request
// fields (body or query), and so needs a Wechatpay-Serial header.
func (e SensitiveEndpoint) HasSensitiveRequest() bool {
	return len(e.RequestBody) > 0 || len(e.RequestQuery) > 0
}

// Endpoint is one documented APIv3 endpoint.
type Endpoint struct {
	Method string `json:"method"`
	// Path is the path template, e.g.
	// /v3/pay/transactions/out-trade-no/{out_trade_no}.
	Path string `json:"path"`
	// Title is the endpoint's title in WeChat Pay's documentation.
	Title string `json:"title"`
}

var (
	sensitiveOnce = sync.OnceValues(func() ([]SensitiveEndpoint, error) {
		var doc struct {
			About     string              `json:"about"`
			Endpoints []SensitiveEndpoint `json:"endpoints"`
		}
		if err := decodeStrict(sensitiveJSON, &doc); err != nil {
			return nil, fmt.Errorf("wechatpay-sensitive-fields.json: %w", err)
		}
		for i, e := range doc.Endpoints {
			if err := checkEndpoint(e.Method, e.Path); err != nil {
				return nil, fmt.Errorf("wechatpay-sensitive-fields.json: endpoint %d: %w", i, err)
			}
		}
		return doc.Endpoints, nil
	})
	endpointsOnce = sync.OnceValues(func() ([]Endpoint, error) {
		var list []Endpoint
		if err := decodeStrict(endpointsJSON, &list); err != nil {
			return nil, fmt.Errorf("wechatpay-endpoints.json: %w", err)
		}
		for i, e := range list {
			if err := checkEndpoint(e.Method, e.Path); err != nil {
				return nil, fmt.Errorf("wechatpay-endpoints.json: endpoint %d: %w", i, err)
			}
		}
		return list, nil
	})
)

// SensitiveEndpoints returns a copy of wechatpay-sensitive-fields.json's
// endpoints, in the file's order. It panics if the embedded file does not
// parse: a build holding a broken reference must not start.
func SensitiveEndpoints() []SensitiveEndpoint {
	list, err := sensitiveOnce()
	if err != nil {
		panic("reference: " + err.Error())
	}
	return append([]SensitiveEndpoint(nil), list...)
}

// Endpoints returns a copy of wechatpay-endpoints.json's endpoints, in the
// file's order. It panics if the embedded file does not parse.
func Endpoints() []Endpoint {
	list, err := endpointsOnce()
	if err != nil {
		panic("reference: " + err.Error())
	}
	return append([]Endpoint(nil), list...)
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func checkEndpoint(method, path string) error {
	if method == "" || strings.ToUpper(method) != method || !strings.HasPrefix(path, "/v3/") {
		return fmt.Errorf("bad method or path %q %q", method, path)
	}
	return nil
}

// Package catalog is the module's built-in catalog of every WeChat Pay
// APIv3 endpoint with sensitive fields (Entries, generated from
// wechatpay-sensitive-fields.json) and the route table that finds the rules
// of a request by method and path; and the path templates of every
// documented endpoint (Templates, generated from wechatpay-endpoints.json)
// with the index that names a request's template for the metrics.
package catalog

//go:generate go run ./gen -out catalog_gen.go -templates templates_gen.go

// Entry is one endpoint of the built-in catalog: the sensitive
// request-body fields and query parameters the module encrypts, and the
// response fields WeChat Pay encrypts for the merchant.
type Entry struct {
	Method, Path string
	// Body are dotted paths in the request body (# = every element).
	Body []string
	// Query are names of query parameters.
	Query []string
	// Response are paths in the response, decrypted with decrypt_responses.
	Response []string
}

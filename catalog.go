package wechatpay

//go:generate go run ./internal/gencatalog -in sandbox/wechatpay-sensitive-fields.json -out catalog_gen.go

// catalogEntry is one endpoint of the built-in catalogue (catalog_gen.go):
// the sensitive request-body fields and query parameters the module
// encrypts, and the response fields WeChat Pay encrypts for the merchant.
type catalogEntry struct {
	Method, Path string
	// Body are gjson-style paths in the request body (# = every element).
	Body []string
	// Query are names of query parameters.
	Query []string
	// Response are paths in the answer, decrypted with decrypt_responses.
	Response []string
}

// presignPath is the first endpoint this module was built for.
const presignPath = "/v3/eduschoolpay/contracts/presign"

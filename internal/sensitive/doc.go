// Package sensitive encrypts the fields WeChat Pay marks sensitive (敏感信息加密)
// and decrypts those it encrypts for the merchant: RSA-OAEP with SHA-1 and
// MGF1-SHA-1, an empty label, standard base64 with padding. Request bodies
// are rewritten in place (only the values change), query parameters keep
// their order and every other byte, and every refusal names the field,
// never its value.
package sensitive

package wechatpay

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// FieldDecrypter decrypts the fields WeChat Pay encrypted for the merchant in
// an answer: base64 RSA-OAEP-SHA1 under the merchant certificate's key,
// decrypted with the merchant API private key.
type FieldDecrypter struct {
	// Key is the merchant API private key.
	Key *rsa.PrivateKey
}

// DecryptValue decrypts one base64 ciphertext.
func (d *FieldDecrypter) DecryptValue(b64 []byte) ([]byte, error) {
	ct := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(ct, b64)
	if err != nil {
		return nil, err
	}
	return rsa.DecryptOAEP(sha1.New(), nil, d.Key, ct[:n], nil)
}

// DecryptFields replaces the ciphertext at every path of fields in the JSON
// object body by its plaintext, as a JSON string, and returns the new body
// and how many values were decrypted. A null or absent field is left alone;
// any other problem is an error and no output, never a half-decrypted
// answer.
func (d *FieldDecrypter) DecryptFields(body []byte, fields *FieldSet) ([]byte, int, error) {
	if fields.empty() {
		return body, 0, nil
	}
	s := &jsonScanner{data: body, allowNull: true}
	values, err := s.scan(fields)
	if err != nil {
		return nil, 0, err
	}
	if len(values) == 0 {
		return body, 0, nil
	}
	var out bytes.Buffer
	out.Grow(len(body))
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	last := 0
	for _, v := range values {
		plain, err := d.DecryptValue(v.plain)
		if err != nil {
			return nil, 0, &FieldError{Field: v.path.String(), Reason: "could not be decrypted with the merchant private key"}
		}
		if !utf8.Valid(plain) {
			return nil, 0, &FieldError{Field: v.path.String(), Reason: "decrypts to bytes that are not UTF-8 text"}
		}
		out.Write(body[last:v.start])
		if err := enc.Encode(string(plain)); err != nil {
			return nil, 0, err
		}
		out.Truncate(out.Len() - 1) // Encode ends with a newline
		last = v.end
	}
	out.Write(body[last:])
	return out.Bytes(), len(values), nil
}

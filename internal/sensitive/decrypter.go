package sensitive

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// Decrypter decrypts the fields WeChat Pay encrypted for the merchant in a
// response: base64 RSA-OAEP-SHA1 under the merchant certificate's key,
// decrypted with the merchant API private key.
type Decrypter struct {
	key *rsacrypto.PrivateKey
}

// NewDecrypter returns a decrypter with the merchant API private key.
func NewDecrypter(key *rsacrypto.PrivateKey) *Decrypter { return &Decrypter{key: key} }

// DecryptValue decrypts one base64 ciphertext.
func (d *Decrypter) DecryptValue(b64 []byte) ([]byte, error) {
	ct := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(ct, b64)
	if err != nil {
		return nil, err
	}
	return d.key.DecryptOAEPSHA1(ct[:n])
}

// DecryptFields replaces the ciphertext at every path of fields in the JSON
// object body by its plaintext, as a JSON string, and returns the new body
// and how many values were decrypted. A null or absent field is left alone;
// any other problem is an error and no output, never a half-decrypted
// response.
func (d *Decrypter) DecryptFields(body []byte, fields *jsonfield.Set) ([]byte, int, error) {
	if fields.Empty() {
		return body, 0, nil
	}
	values, err := jsonfield.FindOptional(body, fields)
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
		plain, err := d.DecryptValue(v.Plain)
		if err != nil {
			return nil, 0, &jsonfield.Error{Field: v.Path(), Reason: "could not be decrypted with the merchant private key"}
		}
		if !utf8.Valid(plain) {
			return nil, 0, &jsonfield.Error{Field: v.Path(), Reason: "decrypts to bytes that are not UTF-8 text"}
		}
		out.Write(body[last:v.Start])
		if err := enc.Encode(string(plain)); err != nil {
			return nil, 0, err
		}
		out.Truncate(out.Len() - 1) // Encode ends with a newline
		last = v.End
	}
	out.Write(body[last:])
	return out.Bytes(), len(values), nil
}

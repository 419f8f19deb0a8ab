package sensitive

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// Encrypter encrypts sensitive values under the WeChat Pay public key or a
// platform certificate's key, prepared once for all its encryptions.
type Encrypter struct {
	key *rsacrypto.PublicKey
}

// NewEncrypter returns an encrypter under key.
func NewEncrypter(key *rsa.PublicKey) *Encrypter {
	return &Encrypter{key: rsacrypto.NewPublicKey(key)}
}

// MaxPlaintext is the longest value, in bytes, that one OAEP-SHA-1 block
// under the key can hold (214 bytes for a 2048-bit key).
func (e *Encrypter) MaxPlaintext() int { return e.key.MaxOAEPSHA1() }

// EncryptFields replaces the value at every path of fields in the JSON object
// body with its ciphertext and returns the new body and how many values were
// encrypted. Every byte outside those values is copied unchanged: key order,
// white space, escapes and number literals stay exactly as the client sent
// them. It fails closed: any problem with the document or a value returns a
// *jsonfield.Error and no output, so no plaintext can slip through.
func (e *Encrypter) EncryptFields(body []byte, fields *jsonfield.Set) ([]byte, int, error) {
	if fields.Empty() {
		return body, 0, nil
	}
	values, err := jsonfield.Find(body, fields)
	if err != nil {
		return nil, 0, err
	}
	if len(values) == 0 {
		return body, 0, nil
	}
	limit := e.MaxPlaintext()
	ctLen := base64.StdEncoding.EncodedLen(e.key.Size())
	grow := 0
	for _, v := range values {
		if len(v.Plain) > limit {
			return nil, 0, &jsonfield.Error{Field: v.Path(), Reason: fmt.Sprintf("is %d bytes long; RSA-OAEP can encrypt at most %d", len(v.Plain), limit)}
		}
		grow += ctLen + 2 - (v.End - v.Start)
	}
	// One buffer of the exact size; each ciphertext is encoded in place.
	out := make([]byte, 0, len(body)+grow)
	last := 0
	scratch := e.key.Scratch()
	defer clear(scratch) // it held encoded plaintext
	for _, v := range values {
		ct, err := e.key.EncryptOAEPSHA1(v.Plain, scratch)
		if err != nil {
			return nil, 0, fmt.Errorf("encrypting %s: %w", v.Path(), err)
		}
		out = append(out, body[last:v.Start]...)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, ct)
		out = append(out, '"')
		last = v.End
	}
	out = append(out, body[last:]...)
	return out, len(values), nil
}

// Key returns the public key values are encrypted under.
func (e *Encrypter) Key() *rsa.PublicKey { return e.key.Key() }

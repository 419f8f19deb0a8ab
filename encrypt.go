package wechatpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
)

// FieldEncrypter encrypts sensitive values for WeChat Pay: RSA-OAEP with
// SHA-1 and MGF1-SHA-1, an empty label, standard base64 with padding, under
// the WeChat Pay public key or a platform certificate's key.
type FieldEncrypter struct {
	// Key is the WeChat Pay public key (or platform certificate key).
	Key *rsa.PublicKey

	prepared *rsaPublic // Key, prepared once; nil: crypto/rsa each time
}

// NewFieldEncrypter returns an encrypter under key with the key prepared
// once for all its encryptions.
func NewFieldEncrypter(key *rsa.PublicKey) *FieldEncrypter {
	e := &FieldEncrypter{Key: key}
	e.prepared, _ = newRSAPublic(key) // on error crypto/rsa refuses the key itself
	return e
}

// encrypt returns RSA-OAEP-SHA1(plain); scratch (nil, or from
// e.scratch) holds the encoded message.
func (e *FieldEncrypter) encrypt(plain, scratch []byte) ([]byte, error) {
	if e.prepared != nil {
		return e.prepared.encryptOAEPSHA1(rand.Reader, plain, scratch)
	}
	return rsa.EncryptOAEP(sha1.New(), rand.Reader, e.Key, plain, nil)
}

// scratch returns space for encoded messages under the prepared key, to
// share between the encryptions of one request; nil without one.
func (e *FieldEncrypter) scratch() []byte {
	if e.prepared == nil {
		return nil
	}
	return make([]byte, e.prepared.size)
}

// MaxPlaintext is the longest value, in bytes, that one OAEP-SHA-1 block
// under the key can hold (214 bytes for a 2048-bit key).
func (e *FieldEncrypter) MaxPlaintext() int {
	return e.Key.Size() - 2*sha1.Size - 2
}

// EncryptValue returns base64(RSA-OAEP-SHA1(plain)).
func (e *FieldEncrypter) EncryptValue(plain []byte) (string, error) {
	ct, err := e.encrypt(plain, nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// EncryptFields replaces the value at every path of fields in the JSON object
// body with its ciphertext and returns the new body and how many values were
// encrypted. Every byte outside those values is copied unchanged: key order,
// white space, escapes and number literals stay exactly as the client sent
// them. It fails closed: any problem with the document or a value returns a
// *FieldError and no output, so no plaintext can slip through.
func (e *FieldEncrypter) EncryptFields(body []byte, fields *FieldSet) ([]byte, int, error) {
	if fields.empty() {
		return body, 0, nil
	}
	values, err := scanSensitive(body, fields)
	if err != nil {
		return nil, 0, err
	}
	if len(values) == 0 {
		return body, 0, nil
	}
	limit := e.MaxPlaintext()
	ctLen := base64.StdEncoding.EncodedLen(e.Key.Size())
	grow := 0
	for _, v := range values {
		if len(v.plain) > limit {
			return nil, 0, &FieldError{Field: v.path.String(), Reason: fmt.Sprintf("is %d bytes long; RSA-OAEP can encrypt at most %d", len(v.plain), limit)}
		}
		grow += ctLen + 2 - (v.end - v.start)
	}
	// One buffer of the exact size; each ciphertext is encoded in place.
	out := make([]byte, 0, len(body)+grow)
	last := 0
	scratch := e.scratch()
	defer clear(scratch) // it held encoded plaintext
	for _, v := range values {
		ct, err := e.encrypt(v.plain, scratch)
		if err != nil {
			return nil, 0, fmt.Errorf("encrypting %s: %w", v.path.String(), err)
		}
		out = append(out, body[last:v.start]...)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, ct)
		out = append(out, '"')
		last = v.end
	}
	out = append(out, body[last:]...)
	return out, len(values), nil
}

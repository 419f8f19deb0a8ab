package notification

import (
	"bytes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
)

const (
	// SignatureType is the only Wechatpay-Signature-Type of WeChat Pay's
	// RSA callbacks. A callback without the header is taken to be of this
	// type, as the official SDKs do.
	SignatureType = "WECHATPAY2-SHA256-RSA2048"
	// nonceSize is the length of resource.nonce: the GCM standard nonce
	// size. The official SDK hands the nonce to GCM as it is, which panics
	// on any other length; here it is a refusal.
	nonceSize = 12
)

// Codes carried by an *Error; they go to the log, and after the
// proxy's "FAIL" answer to WeChat Pay in the message.
const (
	// CodeNotificationMalformed: the body is not a callback envelope
	// (not a JSON object, repeated key, a field of the wrong type, no id,
	// no resource, a resource field missing or ill-formed).
	CodeNotificationMalformed = "NOTIFICATION_MALFORMED"
	// CodeAlgorithmUnsupported: resource.algorithm is not AEAD_AES_256_GCM.
	CodeAlgorithmUnsupported = "ALGORITHM_UNSUPPORTED"
	// CodeDecryptFailed: the resource does not decrypt with the APIv3 key
	// (a wrong apiv3_key, or an altered ciphertext, nonce or associated
	// data), or its plaintext is not a JSON object.
	CodeDecryptFailed = "RESOURCE_DECRYPT_FAILED"
)

// Error says why a callback was refused. It never holds the plaintext or
// any key material.
type Error struct {
	Code   string // one of the Code* constants above
	Reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

func malformed(format string, args ...any) error {
	return &Error{Code: CodeNotificationMalformed, Reason: fmt.Sprintf(format, args...)}
}

// Notification is a parsed callback envelope:
//
//	{"id": ..., "create_time": ..., "event_type": ..., "resource_type": ...,
//	 "summary": ..., "resource": {"algorithm": "AEAD_AES_256_GCM",
//	 "ciphertext": ..., "associated_data": ..., "nonce": ..., "original_type": ...}}
type Notification struct {
	// ID is the notification's id, unique per notification and the same in
	// every resend of it.
	ID string
	// CreateTime, EventType, ResourceType and Summary are the envelope's
	// fields of those names ("" when absent).
	CreateTime, EventType, ResourceType, Summary string
	// Resource is the encrypted resource.
	Resource apiv3.Resource

	body             []byte // the envelope as received
	resStart, resEnd int    // byte span of the resource value in body
}

// Parse parses a callback body (whose signature the caller has
// already verified). It is strict where the app could otherwise read
// something else than what was checked: the body must be one JSON object
// without repeated top-level keys; id must be a non-empty string; the other
// documented top-level fields, if present, must be strings (create_time an
// RFC 3339 time, as the official SDK parses it); resource must be an object
// whose algorithm is AEAD_AES_256_GCM, with a base64 ciphertext, a
// 12-byte nonce and string associated_data. Unknown fields are allowed.
func Parse(body []byte) (*Notification, error) {
	if !json.Valid(body) {
		return nil, malformed("body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, malformed("body must be a JSON object")
	}
	n := &Notification{body: body, resStart: -1}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed("body is not valid JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, malformed("key %q is repeated", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed("body is not valid JSON")
		}
		end := int(dec.InputOffset())
		switch key {
		case "id":
			err = stringField(raw, key, &n.ID)
		case "create_time":
			if err = stringField(raw, key, &n.CreateTime); err == nil && n.CreateTime != "" {
				if _, perr := time.Parse(time.RFC3339, n.CreateTime); perr != nil {
					err = malformed("create_time is not an RFC 3339 time")
				}
			}
		case "event_type":
			err = stringField(raw, key, &n.EventType)
		case "resource_type":
			err = stringField(raw, key, &n.ResourceType)
		case "summary":
			err = stringField(raw, key, &n.Summary)
		case "resource":
			n.resStart, n.resEnd = end-len(raw), end
			err = n.parseResource(raw)
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case n.ID == "":
		return nil, malformed("id is missing or empty")
	case n.resStart < 0:
		return nil, malformed("resource is missing")
	}
	return n, nil
}

// stringField decodes a JSON string or null into dst.
func stringField(raw json.RawMessage, name string, dst *string) error {
	if string(raw) == "null" {
		return nil
	}
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
		return malformed("%s must be a string", name)
	}
	return nil
}

func (n *Notification) parseResource(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '{' {
		return malformed("resource must be a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return malformed("resource must be a JSON object")
	}
	r := &n.Resource
	for _, f := range []struct {
		name string
		dst  *string
	}{{"algorithm", &r.Algorithm}, {"ciphertext", &r.Ciphertext}, {"associated_data", &r.AssociatedData},
		{"nonce", &r.Nonce}, {"original_type", &r.OriginalType}} {
		if v, ok := fields[f.name]; ok {
			if err := stringField(v, "resource."+f.name, f.dst); err != nil {
				return err
			}
		}
	}
	switch {
	case r.Algorithm != apiv3.ResourceAlgorithm:
		return &Error{Code: CodeAlgorithmUnsupported,
			Reason: fmt.Sprintf("resource.algorithm %q is not %s", logtext.Truncate(r.Algorithm, 32), apiv3.ResourceAlgorithm)}
	case r.Ciphertext == "":
		return malformed("resource.ciphertext is missing or empty")
	case len(r.Nonce) != nonceSize:
		return malformed("resource.nonce must be %d bytes, got %d", nonceSize, len(r.Nonce))
	}
	return nil
}

// Decrypt opens the resource with aead (apiv3.NewAEAD of the APIv3 key):
// nonce and additional data are the bytes of resource.nonce and
// resource.associated_data, the ciphertext is resource.ciphertext decoded
// from standard base64. The plaintext must be a JSON object.
func (n *Notification) Decrypt(aead cipher.AEAD) ([]byte, error) {
	plain, err := n.Resource.Open(aead)
	var re *apiv3.ResourceError
	switch {
	case errors.As(err, &re) && re.Problem == apiv3.NonceSizeWrong:
		return nil, malformed("resource.nonce must be %d bytes, got %d", aead.NonceSize(), re.NonceSize)
	case errors.As(err, &re) && re.Problem == apiv3.CiphertextNotBase64:
		return nil, malformed("resource.ciphertext is not base64")
	case err != nil:
		return nil, &Error{Code: CodeDecryptFailed,
			Reason: "resource does not decrypt with the APIv3 key (wrong apiv3_key, or the ciphertext, nonce or associated_data was altered)"}
	}
	if !jsonfield.IsObject(plain) {
		return nil, &Error{Code: CodeDecryptFailed, Reason: "the decrypted resource is not a JSON object"}
	}
	return plain, nil
}

// Envelope returns the envelope with the resource value replaced by
// plaintext, every other byte as received: id, create_time, event_type,
// resource_type, summary and any unknown field keep their place and
// spelling.
func (n *Notification) Envelope(plaintext []byte) []byte {
	out := make([]byte, 0, len(n.body)-(n.resEnd-n.resStart)+len(plaintext))
	out = append(out, n.body[:n.resStart]...)
	out = append(out, plaintext...)
	return append(out, n.body[n.resEnd:]...)
}

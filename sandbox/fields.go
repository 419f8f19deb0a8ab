package sandbox

import (
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// fieldError says why a sensitive field was refused.
type fieldError struct {
	location string // "body" or "query"
	path     string // concrete path or parameter name
	issue    string
}

// walkPath visits every value at a catalog path ("a.#.b": "#" is every
// element of an array) with its concrete path ("a.0.b"). Absent values and
// non-arrays under "#" are skipped.
func walkPath(v gjson.Result, segs []string, prefix string, visit func(path string, v gjson.Result) *fieldError) *fieldError {
	if len(segs) == 0 {
		return visit(prefix, v)
	}
	seg, rest := segs[0], segs[1:]
	if seg == "#" {
		if !v.IsArray() {
			return nil
		}
		for i, el := range v.Array() {
			if fe := walkPath(el, rest, joinPath(prefix, strconv.Itoa(i)), visit); fe != nil {
				return fe
			}
		}
		return nil
	}
	if !v.IsObject() {
		return nil
	}
	child := v.Get(gjson.Escape(seg))
	if !child.Exists() {
		return nil
	}
	return walkPath(child, rest, joinPath(prefix, seg), visit)
}

func joinPath(prefix, seg string) string {
	if prefix == "" {
		return seg
	}
	return prefix + "." + seg
}

// decryptValue decrypts one base64 RSA-OAEP (SHA-1) value, telling
// plaintext apart from ciphertext under another key.
func decryptValue(key *rsa.PrivateKey, value string) (string, string) {
	ct, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(ct) != key.Size() {
		return "", "not RSA-OAEP ciphertext: plaintext? (expected standard base64 of " +
			strconv.Itoa(key.Size()) + " bytes)"
	}
	pt, err := rsa.DecryptOAEP(sha1.New(), nil, key, ct, nil)
	if err != nil {
		return "", "RSA-OAEP (SHA-1) decryption failed: encrypted with another key than the one Wechatpay-Serial names?"
	}
	return string(pt), ""
}

// decryptBody decrypts every present field at the endpoint's request_body
// paths.
func decryptBody(body []byte, paths []string, key *rsa.PrivateKey, keyName string) ([]DecryptedField, *fieldError) {
	root := gjson.ParseBytes(body)
	var out []DecryptedField
	for _, p := range paths {
		fe := walkPath(root, strings.Split(p, "."), "", func(path string, v gjson.Result) *fieldError {
			if v.Type != gjson.String {
				return &fieldError{"body", path, "not a string: a sensitive field must be a base64 ciphertext string"}
			}
			pt, issue := decryptValue(key, v.String())
			if issue != "" {
				return &fieldError{"body", path, issue}
			}
			out = append(out, DecryptedField{Location: "body", Path: path, Value: pt, Key: keyName})
			return nil
		})
		if fe != nil {
			return out, fe
		}
	}
	return out, nil
}

// decryptQuery decrypts every value of the endpoint's request_query
// parameters present in the raw query.
func decryptQuery(rawQuery string, params []string, key *rsa.PrivateKey, keyName string) ([]DecryptedField, *fieldError) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, &fieldError{"query", "", "query string does not parse: " + err.Error()}
	}
	var out []DecryptedField
	for _, name := range params {
		for _, v := range q[name] {
			pt, issue := decryptValue(key, v)
			if issue != "" {
				if strings.Contains(v, " ") {
					issue += " (a '+' of the base64 was not URL-encoded as %2B?)"
				}
				return out, &fieldError{"query", name, issue}
			}
			out = append(out, DecryptedField{Location: "query", Path: name, Value: pt, Key: keyName})
		}
	}
	return out, nil
}

// SampleResponsePlaintext is the plaintext the sandbox encrypts at a
// response_body path of a cataloged endpoint's answer, unless the request
// carried a decrypted value at the same concrete path (which is echoed).
// The path is concrete: "beneficial_owner.0.beneficial_owner_name".
func SampleResponsePlaintext(path string) string { return "sandbox:" + path }

// buildEncryptedAnswer builds an answer object holding, at every
// response_body path, a value from leaf encrypted for the merchant.
// Arrays ("#") get two elements.
func buildEncryptedAnswer(paths []string, leaf func(path string) (string, error)) (map[string]any, error) {
	root := map[string]any{}
	for _, p := range paths {
		segs := strings.Split(p, ".")
		if segs[0] == "#" {
			return nil, fmt.Errorf("path %q: top-level array not supported", p)
		}
		if err := insertPath(root, segs, "", leaf); err != nil {
			return nil, err
		}
	}
	return root, nil
}

func insertPath(m map[string]any, segs []string, prefix string, leaf func(string) (string, error)) error {
	seg := segs[0]
	path := joinPath(prefix, seg)
	switch {
	case len(segs) == 1:
		v, err := leaf(path)
		m[seg] = v
		return err
	case segs[1] == "#":
		arr, _ := m[seg].([]any)
		if arr == nil {
			arr = make([]any, 2)
			m[seg] = arr
		}
		for i := range arr {
			el := joinPath(path, strconv.Itoa(i))
			if len(segs) == 2 {
				v, err := leaf(el)
				if err != nil {
					return err
				}
				arr[i] = v
				continue
			}
			child, _ := arr[i].(map[string]any)
			if child == nil {
				child = map[string]any{}
				arr[i] = child
			}
			if err := insertPath(child, segs[2:], el, leaf); err != nil {
				return err
			}
		}
		return nil
	default:
		child, _ := m[seg].(map[string]any)
		if child == nil {
			child = map[string]any{}
			m[seg] = child
		}
		return insertPath(child, segs[1:], path, leaf)
	}
}

package sensitive

import (
	"net/url"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
)

// EncryptQuery replaces the value of every query parameter named in names by
// its URL-encoded ciphertext, and returns the new raw query and how many
// values were encrypted. Every other parameter keeps its bytes and its
// place. Names are compared after percent-decoding, so "card%5Fno" is
// card_no; values are decoded as form values ('+' is a space) before
// encryption, as WeChat Pay decodes them. A sensitive parameter given twice,
// or one that cannot be decoded, is an error: fail closed.
func (e *Encrypter) EncryptQuery(rawQuery string, names map[string]bool) (string, int, error) {
	if rawQuery == "" || len(names) == 0 {
		return rawQuery, 0, nil
	}
	if strings.Contains(rawQuery, ";") {
		// Some servers split parameters at ';' too, and would see one
		// this function did not.
		return "", 0, &jsonfield.Error{Field: "query", Reason: "';' is not allowed in the query of an endpoint with sensitive parameters"}
	}
	var out strings.Builder
	seen := map[string]bool{}
	count := 0
	rest := rawQuery
	for first := true; ; first = false {
		pair, tail, more := strings.Cut(rest, "&")
		if !first {
			out.WriteByte('&')
		}
		rawKey, rawValue, hasValue := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			// A key that does not decode cannot be compared: refuse it
			// rather than risk a sensitive one passing unrecognised.
			return "", 0, &jsonfield.Error{Field: "query", Reason: "a parameter name is not valid percent-encoding"}
		}
		if !names[key] {
			for name := range names {
				if strings.EqualFold(name, key) {
					return "", 0, &jsonfield.Error{Field: "query parameter " + name, Reason: "a parameter name differs from it only by case; a lenient server would read it as this one"}
				}
			}
			out.WriteString(pair)
		} else {
			field := "query parameter " + key
			if seen[key] {
				return "", 0, &jsonfield.Error{Field: field, Reason: "appears more than once"}
			}
			seen[key] = true
			if !hasValue {
				return "", 0, &jsonfield.Error{Field: field, Reason: "has no value"}
			}
			plain, err := url.QueryUnescape(rawValue)
			if err != nil {
				return "", 0, &jsonfield.Error{Field: field, Reason: "is not valid percent-encoding"}
			}
			if len(plain) > e.MaxPlaintext() {
				return "", 0, &jsonfield.Error{Field: field, Reason: "is too long to encrypt"}
			}
			ct, err := e.EncryptValue([]byte(plain))
			if err != nil {
				return "", 0, err
			}
			out.WriteString(rawKey)
			out.WriteByte('=')
			out.WriteString(url.QueryEscape(ct))
			count++
		}
		if !more {
			break
		}
		rest = tail
	}
	return out.String(), count, nil
}

// MentionsAny reports whether a raw query mentions any of names (lower
// case), as sent or percent-decoded, in any case.
func MentionsAny(rawQuery string, names []string) bool {
	q := strings.ToLower(rawQuery)
	if dec, err := url.QueryUnescape(q); err == nil {
		q += "&" + strings.ToLower(dec)
	}
	for _, n := range names {
		if strings.Contains(q, n) {
			return true
		}
	}
	return false
}

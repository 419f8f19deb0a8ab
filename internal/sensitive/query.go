package sensitive

import (
	"encoding/base64"
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
	var scratch []byte
	rest := rawQuery
	for first := true; ; first = false {
		pair, tail, more := strings.Cut(rest, "&")
		if !first {
			out.WriteByte('&')
		}
		rawKey, rawValue, hasValue := strings.Cut(pair, "=")
		key, err := decodeQueryName(rawKey)
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
			if scratch == nil {
				scratch = e.key.Scratch()
				defer clear(scratch) // it holds encoded plaintext
			}
			ct, err := e.key.EncryptOAEPSHA1([]byte(plain), scratch)
			if err != nil {
				return "", 0, err
			}
			out.WriteString(rawKey)
			out.WriteByte('=')
			out.WriteString(url.QueryEscape(base64.StdEncoding.EncodeToString(ct)))
			count++
		}
		if !more {
			break
		}
		rest = tail
	}
	return out.String(), count, nil
}

// decodeQueryName decodes one raw query parameter name the way EncryptQuery
// compares it with the sensitive names, and the way a server reads it:
// percent-escapes decoded, '+' read as a space. The access log decision
// (QueryMayShowSensitive) decodes names with it too, so that it sees every
// name the encrypter sees.
func decodeQueryName(raw string) (string, error) {
	return url.QueryUnescape(raw)
}

// QueryMayShowSensitive reports whether a request URI may hold the value of
// a sensitive query parameter (names, lower case), so that Caddy's access
// log, which records the URI as sent, must skip the request: the URI
// mentions a name as sent or decoded as a whole; or a part of its query
// (split at '&' and ';', as servers split) has a name that is one of names
// in any case or contains one, or a value that mentions one once decoded;
// or any name or value of the query does not decode, since a part that
// cannot be read cannot be judged. A URI without '=' holds no value.
func QueryMayShowSensitive(requestURI string, names []string) bool {
	if len(names) == 0 || strings.IndexByte(requestURI, '=') < 0 {
		return false
	}
	if mentionsAny(requestURI, names) {
		return true
	}
	_, query, _ := strings.Cut(requestURI, "?")
	for query != "" {
		part := query
		if i := strings.IndexAny(query, "&;"); i >= 0 {
			part, query = query[:i], query[i+1:]
		} else {
			query = ""
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err := decodeQueryName(rawName)
		if err != nil {
			return true
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil || likeSensitiveName(name, names) || mentionsAny(value, names) {
			return true
		}
	}
	return false
}

// likeSensitiveName reports whether a decoded parameter name is one of names
// (lower case) under Unicode case folding, as EncryptQuery compares names
// ("operate_u\u017fer" is operate_user), or contains one in any case.
func likeSensitiveName(name string, names []string) bool {
	lower := strings.ToLower(name)
	for _, n := range names {
		if strings.Contains(lower, n) || strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// mentionsAny reports whether a raw query mentions any of names (lower
// case), as sent or percent-decoded, in any case.
func mentionsAny(rawQuery string, names []string) bool {
	q := strings.ToLower(rawQuery)
	if containsAny(q, names) {
		return true
	}
	dec, err := url.QueryUnescape(q)
	return err == nil && containsAny(strings.ToLower(dec), names)
}

// containsAny reports whether s contains any of names.
func containsAny(s string, names []string) bool {
	for _, n := range names {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

package bill

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Record is one downloadable file named by a verified answer: where it is,
// the digest WeChat Pay gave for it and, for an encrypted bill, the key
// (encrypted for the merchant, as WeChat Pay sent it) and nonce that open
// it. It holds no byte of the bill.
type Record struct {
	// Key is the download URL's path and query, as Key computes it.
	Key string `json:"key"`
	// HashType is the digest's algorithm as WeChat Pay named it (SHA1).
	HashType string `json:"hash_type"`
	// HashValue is the hexadecimal digest.
	HashValue string `json:"hash_value"`
	// EncryptKey is the base64 RSA-OAEP ciphertext of the AES-256 key,
	// under the merchant's public key; empty for a plain bill.
	EncryptKey string `json:"encrypt_key,omitempty"`
	// Nonce is the GCM nonce of an encrypted bill, used as its bytes.
	Nonce string `json:"nonce,omitempty"`
	// Sequence is bill_sequence, the part's number in a split bill.
	Sequence int64 `json:"bill_sequence,omitempty"`
	// Expires is when the record stops counting.
	Expires time.Time `json:"expires_at"`
}

// Encrypted reports whether the record names an encrypted bill.
func (r *Record) Encrypted() bool { return r.EncryptKey != "" }

// Valid reports whether the record still counts at now.
func (r *Record) Valid(now time.Time) bool { return now.Before(r.Expires) }

// ErrNoKey is the error of Key for a URL with no path.
var ErrNoKey = errors.New("the download URL has no path")

// Key returns what a download is looked up by: the URL's path and its raw
// query, as a request for it carries them. A URL with surrounding spaces
// (WeChat Pay's documentation shows one) is trimmed first.
func Key(rawURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return "", err
	}
	return KeyOf(u.EscapedPath(), u.RawQuery)
}

// KeyOf returns the key of a path (escaped, as sent) and a raw query.
func KeyOf(escapedPath, rawQuery string) (string, error) {
	if escapedPath == "" || escapedPath[0] != '/' {
		return "", ErrNoKey
	}
	if rawQuery == "" {
		return escapedPath, nil
	}
	return escapedPath + "?" + rawQuery, nil
}

// Find returns the download records of a verified answer: every object, at
// any depth, with a string download_url and a string hash_value (and
// hash_type), so that any endpoint that names a download is covered. An
// object with encrypt_key must have nonce too. skipped counts the objects
// with download_url and a digest or key that cannot be checked (another
// hash_type, say), so that the caller can log that their downloads will be
// refused; a download_url with neither (some other file) is not counted.
func Find(body []byte, ttl time.Duration, now time.Time) (records []Record, skipped int) {
	if !gjson.ValidBytes(body) {
		return nil, 0
	}
	var walk func(v gjson.Result, depth int)
	walk = func(v gjson.Result, depth int) {
		if depth > 32 {
			return
		}
		if v.IsObject() {
			if dl := v.Get("download_url"); dl.Type == gjson.String {
				if rec, ok := fromObject(v, dl.String(), now.Add(ttl)); ok {
					records = append(records, rec)
				} else if v.Get("hash_value").Exists() || v.Get("hash_type").Exists() || v.Get("encrypt_key").Exists() {
					skipped++ // a bill's download, but it cannot be checked
				}
			}
		}
		if v.IsObject() || v.IsArray() {
			v.ForEach(func(_, child gjson.Result) bool {
				walk(child, depth+1)
				return true
			})
		}
	}
	walk(gjson.ParseBytes(body), 0)
	return records, skipped
}

// fromObject reads one download object.
func fromObject(v gjson.Result, downloadURL string, expires time.Time) (Record, bool) {
	key, err := Key(downloadURL)
	if err != nil {
		return Record{}, false
	}
	str := func(name string) string {
		if f := v.Get(name); f.Type == gjson.String {
			return f.String()
		}
		return ""
	}
	rec := Record{Key: key, HashType: str("hash_type"), HashValue: strings.ToLower(str("hash_value")),
		EncryptKey: str("encrypt_key"), Nonce: str("nonce"), Sequence: v.Get("bill_sequence").Int(), Expires: expires}
	if !strings.EqualFold(rec.HashType, "SHA1") || !isSHA1Hex(rec.HashValue) {
		return Record{}, false
	}
	if rec.EncryptKey != "" && rec.Nonce == "" {
		return Record{}, false
	}
	return rec, true
}

// isSHA1Hex reports whether s is a SHA1 digest in (lower-case) hex.
func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

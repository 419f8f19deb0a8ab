// Package apiv2sign makes the signatures WeChat Pay defines with the APIv2
// key (API密钥) for front-end steps of APIv3 products: the mini program
// coupon plugin (小程序发券插件), the H5 coupon URL (H5发券) and the payscore
// order detail (wxpayScoreDetail). It reads each step's input strictly and
// signs only that step's own parameter names with values of the form
// WeChat Pay issues, so that it cannot sign anything else: the same key
// signs APIv2 API calls by the same rule.
//
// The rule (V2 签名规则, HMAC-SHA256): the parameters with non-empty values,
// sorted by name (ASCII), joined as k=v&k=v, then "&key=" and the key; the
// HMAC-SHA256 of that string keyed with the key, upper-case hex.
package apiv2sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the length of an APIv2 key: 32 ASCII letters and digits.
const KeySize = 32

// SignType is the sign_type the signatures made here are of.
const SignType = "HMAC-SHA256"

// Param is one signed parameter.
type Param struct {
	Name, Value string
}

// CheckKey reports whether key has the form of an APIv2 key; the error
// never quotes it.
func CheckKey(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("must be %d characters (the APIv2 key, API密钥, set in the merchant platform), got %d", KeySize, len(key))
	}
	for _, c := range key {
		if !isAlnum(c) {
			return errors.New("must be ASCII letters and digits only (the APIv2 key, API密钥)")
		}
	}
	return nil
}

// Message returns the string the signature is computed over, key
// excluded: the parameters with non-empty values sorted by name, as
// k=v&k=v. It refuses a parameter that could make the string read as
// other parameters: a name not of [a-z0-9_], a name given twice, a value
// with '&', '=' or a control character.
func Message(params []Param) (string, error) {
	sorted := make([]Param, 0, len(params))
	for _, p := range params {
		if p.Name == "" || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return "", fmt.Errorf("parameter name %q is not of [a-z0-9_]", p.Name)
		}
		if strings.ContainsAny(p.Value, "&=") || hasControl(p.Value) {
			return "", fmt.Errorf("the value of %s has '&', '=' or a control character", p.Name)
		}
		if p.Value != "" {
			sorted = append(sorted, p)
		}
	}
	slices.SortFunc(sorted, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	for i, p := range sorted {
		if i > 0 && sorted[i-1].Name == p.Name {
			return "", fmt.Errorf("parameter %s is given twice", p.Name)
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String(), nil
}

// Sign returns the HMAC-SHA256 signature of params with key, upper-case hex.
func Sign(key []byte, params []Param) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", fmt.Errorf("APIv2 key %w", err)
	}
	msg, err := Message(params)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	mac.Write([]byte("&key="))
	mac.Write(key)
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil))), nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029 {
			return true
		}
	}
	return false
}

package testkit

import (
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Segments splits a field path ("a.#.b", a literal dot written \.) at its
// dots, written apart from the module's own path parser.
func Segments(path string) []string {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path):
			i++
			cur.WriteByte(path[i])
		case path[i] == '.':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	return append(segs, cur.String())
}

// Walk returns every value below r at the path segments (# = every array
// element), found by gjson alone, with Index set to the offset in the
// document r came from.
func Walk(r gjson.Result, segs []string) []gjson.Result {
	if len(segs) == 0 {
		return []gjson.Result{r}
	}
	if segs[0] == "#" {
		if !r.IsArray() {
			return nil
		}
		var out []gjson.Result
		r.ForEach(func(_, v gjson.Result) bool {
			out = append(out, Walk(v, segs[1:])...)
			return true
		})
		return out
	}
	if !r.IsObject() {
		return nil
	}
	v := r.Get(gjson.Escape(segs[0]))
	if !v.Exists() {
		return nil
	}
	return Walk(v, segs[1:])
}

// Locate finds, with gjson, every value at a field path of doc, each with
// Index set to its offset in doc; the test fails if the offsets do not line
// up with the document.
func Locate(t testing.TB, doc []byte, path string) []gjson.Result {
	t.Helper()
	res := Walk(gjson.ParseBytes(doc), Segments(path))
	for _, r := range res {
		if r.Index < 0 || r.Index+len(r.Raw) > len(doc) || string(doc[r.Index:r.Index+len(r.Raw)]) != r.Raw {
			t.Fatalf("%s: gjson offsets do not line up", path)
		}
	}
	return res
}

// SealForMerchant encrypts plain as WeChat Pay encrypts response fields for the
// merchant (RSA-OAEP-SHA1 under the merchant key), with the official SDK.
func SealForMerchant(t testing.TB, plain string) string {
	t.Helper()
	return SealForMerchantKey(t, Creds().MerchantKey, plain)
}

// SealForMerchantKey is SealForMerchant for another merchant key.
func SealForMerchantKey(t testing.TB, key *rsa.PrivateKey, plain string) string {
	t.Helper()
	ct, err := utils.EncryptOAEPWithPublicKey(plain, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// ConcretePath fills each {param} segment of a path template with a value.
func ConcretePath(template string) string {
	segs := strings.Split(template, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "P" + strings.Trim(s, "{}") + "-123"
		}
	}
	return strings.Join(segs, "/")
}

package sensitive

import (
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// FuzzEncryptQuery: whatever the query, EncryptQuery never panics, never
// lets a sensitive parameter through in plaintext, and keeps every other
// piece of the query byte for byte. The judge splits the query itself and
// decrypts with the official SDK.
func FuzzEncryptQuery(f *testing.F) {
	for _, seed := range []string{
		"card_no=6222021234567890123",
		"a=1&card_no=%E5%BC%A0+%E4%B8%89&b=2",
		"card%5Fno=1&card_no=2",
		"card_no=1;x=2",
		"&&card_no&=&",
		"card_no=%zz",
		"bal_account_no=" + strings.Repeat("9", 300),
		"x=%26card_no%3D1",
	} {
		f.Add(seed)
	}
	e := testEncrypter(f)
	key := testkit.Creds().WechatPayKey
	names := map[string]bool{"card_no": true, "bal_account_no": true}
	f.Fuzz(func(t *testing.T, query string) {
		out, n, err := e.EncryptQuery(query, names)
		if err != nil {
			if out != "" || n != 0 {
				t.Fatal("output with an error")
			}
			return
		}
		in, got := strings.Split(query, "&"), strings.Split(out, "&")
		if len(in) != len(got) {
			t.Fatalf("%d pieces became %d", len(in), len(got))
		}
		count := 0
		for i := range in {
			k, v, _ := strings.Cut(in[i], "=")
			name, kerr := url.QueryUnescape(k)
			if kerr != nil || !names[name] {
				if got[i] != in[i] {
					t.Fatalf("piece %q changed to %q", in[i], got[i])
				}
				continue
			}
			count++
			plain, _ := url.QueryUnescape(v)
			gk, gv, _ := strings.Cut(got[i], "=")
			if gk != k {
				t.Fatalf("name %q changed to %q", k, gk)
			}
			ct, uerr := url.QueryUnescape(gv)
			if uerr != nil {
				t.Fatalf("ciphertext %q is not query-escaped", gv)
			}
			dec, derr := utils.DecryptOAEP(ct, key)
			if derr != nil || dec != plain {
				t.Fatalf("%s decrypts to %q (%v), want %q", name, dec, derr, plain)
			}
		}
		if count != n {
			t.Fatalf("reported %d, found %d", n, count)
		}
	})
}

// FuzzQueryLogSkip: whenever a query holds a value under a sensitive name
// (by the judge's own reading: pieces split at '&' and ';', names decoded as
// form values and compared under case folding), or holds any value and a
// piece of it does not decode, the access log decision skips the request.
func FuzzQueryLogSkip(f *testing.F) {
	for _, seed := range []string{
		"x=%zz&card%5Fno=1",
		"card%5fno=1&x=%",
		"x=1;CARD%5FNO=1",
		"%zz=1&bal_account_no=2",
		"a+b=%zz&card_no=1+2",
		"x=%zz&bal_accou%C5%BFt_no=1",
		"card_no",
		"mchid=1&offset=0",
	} {
		f.Add(seed)
	}
	names := []string{"card_no", "bal_account_no"}
	f.Fuzz(func(t *testing.T, query string) {
		want := false
		for _, piece := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
			k, v, hasValue := strings.Cut(piece, "=")
			name, kerr := url.QueryUnescape(k)
			_, verr := url.QueryUnescape(v)
			if (kerr != nil || verr != nil) && strings.Contains(query, "=") {
				want = true
			}
			for _, n := range names {
				if hasValue && strings.EqualFold(name, n) {
					want = true
				}
			}
		}
		if want && !QueryMayShowSensitive("/v3/x?"+query, names) {
			t.Fatalf("%q is logged", query)
		}
	})
}

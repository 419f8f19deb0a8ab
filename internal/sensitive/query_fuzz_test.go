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

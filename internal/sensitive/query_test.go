package sensitive

import (
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func TestEncryptQuery(t *testing.T) {
	e := testEncrypter(t)
	key := testkit.Creds().WechatPayKey
	names := map[string]bool{"card_no": true, "bal_account_no": true}
	for _, tc := range []struct {
		name, in string
		plain    map[string]string // param -> plaintext expected after decryption
		rest     string            // the query with sensitive values replaced by "X"
	}{
		{"order and other bytes kept", "a=1&card_no=6222021234567890123&z=%E4%B8%AD+x&bal_account_no=98765",
			map[string]string{"card_no": "6222021234567890123", "bal_account_no": "98765"}, "a=1&card_no=X&z=%E4%B8%AD+x&bal_account_no=X"},
		{"form decoding of the value", "card_no=%E5%BC%A0+%E4%B8%89", map[string]string{"card_no": "张 三"}, "card_no=X"},
		{"escaped name", "card%5Fno=6222", map[string]string{"card_no": "6222"}, "card%5Fno=X"},
		{"no sensitive parameter", "offset=0&limit=10", nil, "offset=0&limit=10"},
		{"empty pieces kept", "&a&&card_no=1&", map[string]string{"card_no": "1"}, "&a&&card_no=X&"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, n, err := e.EncryptQuery(tc.in, names)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.plain) {
				t.Errorf("encrypted %d, want %d", n, len(tc.plain))
			}
			// Decrypt every sensitive value with the SDK, independently parsed.
			var rest []string
			for _, pair := range strings.Split(out, "&") {
				k, v, _ := strings.Cut(pair, "=")
				dk, _ := url.QueryUnescape(k)
				if want, ok := tc.plain[dk]; ok {
					ct, err := url.QueryUnescape(v)
					if err != nil {
						t.Fatal(err)
					}
					got, err := utils.DecryptOAEP(ct, key)
					if err != nil || got != want {
						t.Errorf("%s decrypts to %q (%v), want %q", dk, got, err, want)
					}
					pair = k + "=X"
				}
				rest = append(rest, pair)
			}
			if strings.Join(rest, "&") != tc.rest {
				t.Errorf("query = %s, want the shape %s", out, tc.rest)
			}
			if _, err := url.ParseQuery(out); err != nil {
				t.Errorf("output is not a valid query: %v", err)
			}
		})
	}
}

func TestEncryptQueryRefusals(t *testing.T) {
	e := testEncrypter(t)
	names := map[string]bool{"card_no": true}
	for _, in := range []string{
		"card_no=1&card_no=6222021234567890123",
		"card_no=1&card%5fno=6222021234567890123",
		"card_no",
		"card_no=%zz6222021234567890123",
		"card%zzno=6222021234567890123",
		"card_no=" + strings.Repeat("9", 215),
	} {
		out, _, err := e.EncryptQuery(in, names)
		if err == nil {
			t.Errorf("%q accepted as %q", in, out)
			continue
		}
		if strings.Contains(err.Error(), "6222021234567890123") {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

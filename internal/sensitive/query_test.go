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

// TestQueryMayShowSensitive: the access log decision flags every URI whose
// query may hold a sensitive value, however the name is spelled and whatever
// else the query holds, and leaves ordinary URIs alone.
func TestQueryMayShowSensitive(t *testing.T) {
	names := []string{"real_name", "operate_user"}
	for _, tc := range []struct {
		uri  string
		want bool
	}{
		{"/v3/x?real_name=V", true},
		{"/v3/x?real%5Fname=V", true},
		{"/v3/x?real%5fname=V", true},
		{"/v3/x?Real%5FName=V", true},
		{"/v3/x?x=%zz&real%5Fname=V", true}, // a bad escape before hid it
		{"/v3/x?real%5Fname=V&x=%zz", true}, // and after
		{"/v3/x?x=%&real%5Fname=V&real%5Fname=B", true},
		{"/v3/x?x=1;real%5Fname=V", true}, // ';' splits too
		{"/v3/x?x=%zz;real%5Fname=V", true},
		{"/v3/x?a+b=1&real%5Fname=V+W", true},        // '+' is a space
		{"/v3/x?x=%zz&operate_u%C5%BFer=V", true},    // long s folds to s
		{"/v3/x?x=%zz&prefix_real%5Fname_x=V", true}, // contains one
		{"/v3/x?x=a%26real%5Fname%3DV", true},        // inside a value
		{"/v3/x?%zz=1", true},                        // a name that does not decode
		{"/v3/x?x=%zz", true},                        // a value that does not decode
		{"/v3/x?mchid=1900000001&offset=0", false},
		{"/v3/x?name=%E5%BC%A0+%E4%B8%89", false},
		{"/v3/x?real_name", false}, // no value
		{"/v3/x", false},
		{"/v3/x?", false},
	} {
		if got := QueryMayShowSensitive(tc.uri, names); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.uri, got, tc.want)
		}
	}
	if QueryMayShowSensitive("/v3/x?x=%zz&real_name=V", nil) {
		t.Errorf("no sensitive names, still flagged")
	}
}

package sensitive

import (
	"bytes"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func testEncrypter(t testing.TB) *Encrypter {
	return NewEncrypter(&testkit.Creds().WechatPayKey.PublicKey)
}

func testDecrypter(t testing.TB) *Decrypter {
	key, err := rsacrypto.NewPrivateKey(testkit.Creds().MerchantKey)
	if err != nil {
		t.Fatal(err)
	}
	return NewDecrypter(key)
}

func mustFields(t testing.TB, paths ...string) *jsonfield.Set {
	t.Helper()
	fs, err := jsonfield.NewSet(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestEncryptFields(t *testing.T) {
	presignPaths := testkit.PresignFields
	tests := []struct {
		name  string
		paths []string
		in    string
		want  map[string]string
	}{
		{"reference presign request", presignPaths, testkit.PresignBody, testkit.PresignPlain},
		{"compact, other key order", presignPaths,
			`{"bank_card":{"phone":"13800138000","bank_card_no":"6222"},"identity":{"credential_type":"IDENTITY_CARD","real_name":"李四"},"appid":"wx1"}`,
			map[string]string{"bank_card.phone": "13800138000", "bank_card.bank_card_no": "6222", "identity.credential_type": "IDENTITY_CARD", "identity.real_name": "李四"}},
		{"optional parts absent", presignPaths, `{"appid":"wx1","openid":"o1"}`, map[string]string{}},
		{"optional parent null", presignPaths, `{"identity":null,"bank_card":{"bank_card_no":"6222"}}`,
			map[string]string{"bank_card.bank_card_no": "6222"}},
		{"unicode escapes decoded before encryption", presignPaths,
			`{"identity":{"real_name":"\u5f20\u4e09","credential_type":"A\"B\\C\/D\n\t","id_card_number":"\ud83d\ude00x"}}`,
			map[string]string{"identity.real_name": "张三", "identity.credential_type": "A\"B\\C/D\n\t", "identity.id_card_number": "😀x"}},
		{"empty string", presignPaths, `{"identity":{"real_name":""}}`, map[string]string{"identity.real_name": ""}},
		{"array of objects", []string{"transfer_detail_list.#.user_name", "transfer_detail_list.#.user_id_card"},
			`{"batch":"b1","transfer_detail_list":[{"user_name":"王五","amount":100},{"amount":200},{"user_name":"赵六","user_id_card":"1101"}]}`,
			map[string]string{"transfer_detail_list.#.user_name[0]": "王五", "transfer_detail_list.#.user_name[1]": "赵六", "transfer_detail_list.#.user_id_card[0]": "1101"}},
		{"arrays nested in arrays", []string{"groups.#.members.#.name"},
			`{"groups":[{"members":[{"name":"a"},{"name":"b"}]},{"members":[]},{"members":[{"x":1},{"name":"c"}]}]}`,
			map[string]string{"groups.#.members.#.name[0]": "a", "groups.#.members.#.name[1]": "b", "groups.#.members.#.name[2]": "c"}},
		{"numbers, literals and white space kept", []string{"a.s"},
			"{ \"n\" : 101164396123311331 , \"f\":-0.5e+10,\"t\":true,\"z\":null ,\"a\" : { \"s\" :\t\"v\" } }\n",
			map[string]string{"a.s": "v"}},
		{"214 bytes fit one OAEP block", []string{"s"}, `{"s":"` + strings.Repeat("x", 214) + `"}`,
			map[string]string{"s": strings.Repeat("x", 214)}},
		{"lone surrogate outside sensitive fields passes", []string{"s"}, `{"other":"\ud800","s":"v"}`, map[string]string{"s": "v"}},
		{"sensitive-looking key elsewhere is not touched", presignPaths, `{"real_name":"not in identity","x":{"identity":{"real_name":"deeper"}}}`, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, n, err := testEncrypter(t).EncryptFields([]byte(tc.in), mustFields(t, tc.paths...))
			if err != nil {
				t.Fatalf("EncryptFields: %v", err)
			}
			if n != len(tc.want) {
				t.Errorf("count = %d, want %d", n, len(tc.want))
			}
			testkit.CheckEncrypted(t, []byte(tc.in), out, tc.paths, tc.want)
		})
	}
}

// TestEncryptEscapedKey: a key spelled with escapes is the key it spells,
// so it must be encrypted; gjson agrees, and so would WeChat Pay's parser.
func TestEncryptEscapedKey(t *testing.T) {
	in := `{"identity":{"real\u005fname":"张三"}}`
	out, n, err := testEncrypter(t).EncryptFields([]byte(in), mustFields(t, "identity.real_name"))
	if err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if bytes.Contains(out, []byte("张三")) {
		t.Fatal("plaintext left in output")
	}
	plain, err := utils.DecryptOAEP(gjson.GetBytes(out, "identity.real_name").Str, testkit.Creds().WechatPayKey)
	if err != nil || plain != "张三" {
		t.Fatalf("decrypts to %q, %v", plain, err)
	}
}

func TestEncryptRefusals(t *testing.T) {
	presignPaths := testkit.PresignFields
	secret := "SECRET-VALUE-42"
	tests := []struct {
		name, in, field, reason string
		paths                   []string
	}{
		{"number", `{"identity":{"real_name":4211}}`, "identity.real_name", "must be a JSON string, got number", nil},
		{"boolean", `{"identity":{"real_name":true}}`, "identity.real_name", "got boolean", nil},
		{"null", `{"identity":{"real_name":null}}`, "identity.real_name", "got null", nil},
		{"object", `{"identity":{"real_name":{"v":"` + secret + `"}}}`, "identity.real_name", "got object", nil},
		{"array", `{"identity":{"real_name":["` + secret + `"]}}`, "identity.real_name", "got array", nil},
		{"parent is a string", `{"identity":"` + secret + `"}`, "identity", "must be a JSON object, got string", nil},
		{"parent is an array", `{"identity":[{"real_name":"` + secret + `"}]}`, "identity", "must be a JSON object, got array", nil},
		{"duplicate sensitive key", `{"identity":{"real_name":"a","real_name":"` + secret + `"}}`, "identity.real_name", "more than once", nil},
		{"duplicate via escape", `{"identity":{"real_name":"a","real\u005fname":"` + secret + `"}}`, "identity.real_name", "more than once", nil},
		{"duplicate parent", `{"identity":{"real_name":"a"},"identity":{"real_name":"` + secret + `"}}`, "identity", "more than once", nil},
		{"not an object", `["` + secret + `"]`, "", "must be a JSON object", nil},
		{"empty body", ``, "", "must be a JSON object", nil},
		{"trailing data", `{"identity":{"real_name":"a"}} {"identity":{"real_name":"` + secret + `"}}`, "", "unexpected data after", nil},
		{"trailing comma", `{"identity":{"real_name":"` + secret + `",}}`, "", "invalid JSON", nil},
		{"unterminated", `{"identity":{"real_name":"` + secret, "", "invalid JSON", nil},
		{"invalid UTF-8", "{\"identity\":{\"real_name\":\"" + secret + "\xff\"}}", "", "invalid UTF-8", nil},
		{"lone surrogate in sensitive value", `{"identity":{"real_name":"` + secret + `\ud800"}}`, "", "surrogate", nil},
		{"raw control character", "{\"identity\":{\"real_name\":\"" + secret + "\n\"}}", "", "control character", nil},
		{"single quotes", `{'identity':{'real_name':'` + secret + `'}}`, "", "invalid JSON", nil},
		{"too long for OAEP", `{"identity":{"real_name":"` + secret + strings.Repeat("x", 200) + `"}}`, "identity.real_name", "at most 214", nil},
		{"array expected", `{"list":{"name":"` + secret + `"}}`, "list", "must be a JSON array, got object", []string{"list.#.name"}},
		{"element field wrong type", `{"list":[{"name":"ok"},{"name":7}]}`, "list.1.name", "must be a JSON string", []string{"list.#.name"}},
		{"too deep", strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300), "", "nesting deeper", []string{"identity.real_name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paths := tc.paths
			if paths == nil {
				paths = presignPaths
			}
			out, _, err := testEncrypter(t).EncryptFields([]byte(tc.in), mustFields(t, paths...))
			if err == nil {
				t.Fatalf("accepted, output %s", out)
			}
			fe, ok := err.(*jsonfield.Error)
			if !ok {
				t.Fatalf("error %T %v is not a *jsonfield.Error", err, err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("error = %q (field %q), want field %q and reason containing %q", err, fe.Field, tc.field, tc.reason)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "4211") {
				t.Errorf("error message quotes the value: %q", err)
			}
			if out != nil {
				t.Errorf("output returned with an error")
			}
		})
	}
}

// TestEncryptEscapedDot: a path's escaped dot names a key with a dot in it,
// not two nested keys.
func TestEncryptEscapedDot(t *testing.T) {
	fs := mustFields(t, `a\.b.c`)
	out, n, err := testEncrypter(t).EncryptFields([]byte(`{"a.b":{"c":"v"},"a":{"b":{"c":"w"}}}`), fs)
	if err != nil || n != 1 {
		t.Fatalf("escaped dot: n=%d err=%v", n, err)
	}
	if !bytes.Contains(out, []byte(`"c":"w"`)) {
		t.Error("a.b.c was encrypted instead of the key \"a.b\"")
	}
}

// TestEncryptFieldsBoundsAmplification: a body of many empty sensitive
// values is refused rather than grown twentyfold at an RSA operation each.
func TestEncryptFieldsBoundsAmplification(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"transfer_detail_list":[`)
	for i := 0; i <= jsonfield.MaxValues; i++ {
		b.WriteString(`{"user_name":""},`)
	}
	b.WriteString(`{}]}`)
	out, _, err := testEncrypter(t).EncryptFields(b.Bytes(), mustFields(t, "transfer_detail_list.#.user_name"))
	if err == nil || out != nil || !strings.Contains(err.Error(), "sensitive values") {
		t.Fatalf("err %v, %d bytes out", err, len(out))
	}
}

package wechatpay

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

func TestAppCaddyfile(t *testing.T) {
	assertAdapt(t, `{
	wechatpay {
		merchant school {
			mchid          1900000001
			serial_no      3775B6A45ACD588826D15E583A95F5DD12345678
			private_key    {file./etc/wechatpay/apiclient_key.pem}
			apiv3_key      {env.WECHATPAY_APIV3_KEY}
			public_key_id  PUB_KEY_ID_0114232134912410000000000000
			public_key     /etc/wechatpay/pub_key.pem
			refresh_interval 12h
		}
	}
	wechatpay {
		merchant canteen {
			mchid            1900000002
			serial_no        4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D
			private_key      /etc/wechatpay/canteen_key.pem
			apiv3_key        {file./etc/wechatpay/canteen_apiv3_key.txt}
			certificates_url http://127.0.0.1:9181
			download_certificates on
		}
	}
}
:9180 {
	wechatpay {
		merchant school
		decrypt_responses
	}
	reverse_proxy https://api.mch.weixin.qq.com
}`, `{
	"apps": {
		"http": {"servers": {"srv0": {"listen": [":9180"], "routes": [{"handle": [
			{"decrypt_responses": true, "handler": "wechatpay", "merchant": "school"},
			{"handler": "reverse_proxy", "transport": {"protocol": "http", "tls": {}}, "upstreams": [{"dial": "api.mch.weixin.qq.com:443"}]}
		]}]}}},
		"wechatpay": {"merchants": {
			"canteen": {"mchid": "1900000002", "serial_no": "4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D",
				"private_key": "/etc/wechatpay/canteen_key.pem", "apiv3_key": "{file./etc/wechatpay/canteen_apiv3_key.txt}",
				"download_certificates": true, "certificates_url": "http://127.0.0.1:9181"},
			"school": {"mchid": "1900000001", "serial_no": "3775B6A45ACD588826D15E583A95F5DD12345678",
				"private_key": "{file./etc/wechatpay/apiclient_key.pem}", "apiv3_key": "{env.WECHATPAY_APIV3_KEY}",
				"public_key_id": "PUB_KEY_ID_0114232134912410000000000000", "public_key": "/etc/wechatpay/pub_key.pem",
				"refresh_interval": 43200000000000}
		}}
	}
}`)
}

func TestAppCaddyfileErrors(t *testing.T) {
	// Blocks are written on one line with ";" for a new line.
	for input, want := range map[string]string{
		`wechatpay {;merchant;}`:                                   "wrong argument count",
		`wechatpay {;merchant a b {;};}`:                           "wrong argument count",
		`wechatpay {;mchid 1;}`:                                    "want merchant <name>",
		`wechatpay {;merchant a {;mchid 1 2;};}`:                   "wrong argument count",
		`wechatpay {;merchant a {;colour blue;};}`:                 "unrecognized merchant option",
		`wechatpay {;merchant a {;download_certificates maybe;};}`: "want on or off",
		`wechatpay {;merchant a {;mchid 1;mchid 2;};}`:             "given more than once",
		`wechatpay {;merchant a {;mchid 1;serial_no A;private_key k;};merchant a {;mchid 1;serial_no A;private_key k;};}`: "defined twice",

		`wechatpay {;merchant a {;certificates_url;};}`:                                    "wrong argument count",
		`wechatpay {;merchant a {;certificates_url http://a;certificates_url http://b;};}`: "given more than once",
	} {
		_, err := adaptCaddyfile(t, "{\n"+strings.ReplaceAll(input, ";", "\n")+"\n}\n:9180 {\n respond ok\n}")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", input, err, want)
		}
	}
}

// TestAppCaddyfileCertificatesURLs: certificates_url takes a list, which
// adapts to an array (one URL to a string, as TestAppCaddyfile shows) and
// is read back as it was written.
func TestAppCaddyfileCertificatesURLs(t *testing.T) {
	out, err := adaptCaddyfile(t, `{
	wechatpay {
		merchant school {
			mchid            1900000001
			serial_no        3775B6A45ACD588826D15E583A95F5DD12345678
			private_key      /etc/wechatpay/apiclient_key.pem
			apiv3_key        {env.WECHATPAY_APIV3_KEY}
			certificates_url https://api.mch.weixin.qq.com https://api2.mch.weixin.qq.com
		}
	}
}
:9180 {
	respond ok
}`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `"certificates_url":["https://api.mch.weixin.qq.com","https://api2.mch.weixin.qq.com"]`
	if !strings.Contains(compactJSON(t, out), want) {
		t.Fatalf("adapted %s, want %s", out, want)
	}
	var cfg struct {
		Apps struct {
			WechatPay App `json:"wechatpay"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Apps.WechatPay.Merchants["school"].CertificatesURL; len(got) != 2 || got[1] != "https://api2.mch.weixin.qq.com" {
		t.Errorf("read back %q", got)
	}
}

func TestHandlerMerchantCaddyfile(t *testing.T) {
	h := new(Handler)
	d := caddyfile.NewTestDispenser("wechatpay {\n merchant school\n max_body 2KiB\n}")
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if h.Merchant != "school" || h.MaxBody != 2048 {
		t.Errorf("got %+v", h)
	}
}

// TestReadmeMerchantsExample adapts the multi-merchant example of
// docs/merchants.md, so that the documentation stays a working config.
func TestReadmeMerchantsExample(t *testing.T) {
	out, err := adaptCaddyfile(t, testkit.DocsCaddyfile(t, "docs/merchants.md", "# Merchants and platform certificates"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"merchant":"school"`, `"merchant":"canteen"`, `"apiv3_key":"{file./etc/wechatpay/canteen/apiv3_key.txt}"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted example lacks %s", want)
		}
	}
}

// TestAppValuesCheckedAtProvision: the merchant block's values are checked
// when the app is provisioned, each error naming the merchant and option.
func TestAppValuesCheckedAtProvision(t *testing.T) {
	c := testkit.Creds()
	keyFile := testkit.WriteFile(t, t.TempDir(), "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pubFile := testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	valid := "mchid " + c.MchID + ";serial_no " + c.SerialNo + ";private_key " + keyFile +
		";public_key_id " + c.PublicKeyID + ";public_key " + pubFile
	for _, tc := range []struct{ name, merchant, block, want string }{
		{"name with a slash", `"a/b"`, valid, `merchant name "a/b": use letters, digits`},
		{"no serial_no", "a", "mchid 1", "merchant a: serial_no is required"},
		{"refresh too often", "a", valid + ";refresh_interval 1s", "merchant a: refresh_interval must be at least 1m"},
	} {
		out, err := adaptCaddyfile(t, "{\nwechatpay {\nmerchant "+tc.merchant+" {\n"+strings.ReplaceAll(tc.block, ";", "\n")+"\n}\n}\n}\n:9180 {\n respond ok\n}")
		if err != nil {
			t.Fatalf("%s: adapt: %v", tc.name, err)
		}
		var cfg struct {
			Apps struct {
				WechatPay json.RawMessage `json:"wechatpay"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		app := new(App)
		if err := json.Unmarshal(cfg.Apps.WechatPay, app); err != nil {
			t.Fatal(err)
		}
		if err := startApp(context.Background(), app, fileStorage(t), zap.NewNop()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

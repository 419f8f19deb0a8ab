package wechatpay

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// adaptCaddyfile runs the real Caddyfile adapter (the one `caddy adapt` uses).
func adaptCaddyfile(t testing.TB, input string) ([]byte, error) {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		t.Fatal("caddyfile adapter not registered")
	}
	out, warnings, err := adapter.Adapt([]byte(input), nil)
	for _, w := range warnings {
		t.Logf("warning: %s:%d: %s: %s", w.File, w.Line, w.Directive, w.Message)
	}
	return out, err
}

// compactJSON strips insignificant white space; key order and values stay.
func compactJSON(t testing.TB, doc []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		t.Fatalf("invalid JSON %s: %v", doc, err)
	}
	return b.String()
}

func indentJSON(doc []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "\t"); err != nil {
		return string(doc)
	}
	return b.String()
}

// assertAdapt adapts input and compares the result with want exactly
// (white space aside), like caddytest.AssertAdapt.
func assertAdapt(t *testing.T, input, want string) {
	t.Helper()
	got, err := adaptCaddyfile(t, input)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	if compactJSON(t, got) != compactJSON(t, []byte(want)) {
		t.Errorf("adapted JSON differs\n got: %s\nwant: %s", indentJSON(got), indentJSON([]byte(want)))
	}
}

// siteHandlers returns the handlers of srv0's top-level routes, in order.
func siteHandlers(t *testing.T, adapted []byte) []json.RawMessage {
	t.Helper()
	type route struct {
		Handle []json.RawMessage `json:"handle"`
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []route `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		t.Fatal(err)
	}
	routes := cfg.Apps.HTTP.Servers["srv0"].Routes
	var handlers []json.RawMessage
	for _, r := range routes {
		handlers = append(handlers, r.Handle...)
	}
	return handlers
}

func handlerName(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var h struct {
		Handler string `json:"handler"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Handler
}

// exampleCaddyfile is the site block of Caddyfile.example: no order line.
const exampleCaddyfile = `:9180 {
	# Only this machine may use the merchant's signing key.
	bind 127.0.0.1

	wechatpay {
		mchid         {env.WECHATPAY_MCHID}
		serial_no     {env.WECHATPAY_SERIAL_NO}
		private_key   {env.WECHATPAY_PRIVATE_KEY}
		public_key_id {env.WECHATPAY_PUBLIC_KEY_ID}
		public_key    {env.WECHATPAY_PUBLIC_KEY}
	}

	reverse_proxy https://api.mch.weixin.qq.com {
		header_up Host {upstream_hostport}
	}
}
`

// exampleJSON is what exampleCaddyfile adapts to: the wechatpay handler
// first, then reverse_proxy, and the placeholders kept for Provision.
const exampleJSON = `{
	"apps": {
		"http": {
			"servers": {
				"srv0": {
					"listen": ["127.0.0.1:9180"],
					"routes": [
						{
							"handle": [
								{
									"handler": "wechatpay",
									"mchid": "{env.WECHATPAY_MCHID}",
									"private_key": "{env.WECHATPAY_PRIVATE_KEY}",
									"public_key": "{env.WECHATPAY_PUBLIC_KEY}",
									"public_key_id": "{env.WECHATPAY_PUBLIC_KEY_ID}",
									"serial_no": "{env.WECHATPAY_SERIAL_NO}"
								},
								{
									"handler": "reverse_proxy",
									"headers": {"request": {"set": {"Host": ["{http.reverse_proxy.upstream.hostport}"]}}},
									"transport": {"protocol": "http", "tls": {}},
									"upstreams": [{"dial": "api.mch.weixin.qq.com:443"}]
								}
							]
						}
					]
				}
			}
		}
	}
}`

// TestCaddyfileExample adapts the example: with no order line the wechatpay
// handler runs before reverse_proxy, whichever comes first in the file.
func TestCaddyfileExample(t *testing.T) {
	t.Run("as written", func(t *testing.T) {
		assertAdapt(t, exampleCaddyfile, exampleJSON)
	})
	t.Run("reverse_proxy written first", func(t *testing.T) {
		i := strings.Index(exampleCaddyfile, "\twechatpay {")
		j := strings.Index(exampleCaddyfile, "\treverse_proxy")
		k := strings.LastIndex(exampleCaddyfile, "}")
		swapped := exampleCaddyfile[:i] + exampleCaddyfile[j:k] + "\n" + exampleCaddyfile[i:j] + "}\n"
		assertAdapt(t, swapped, exampleJSON)
	})
	t.Run("Caddyfile.example on disk", func(t *testing.T) {
		raw, err := os.ReadFile("Caddyfile.example")
		if err != nil {
			t.Skip(err)
		}
		out, err := adaptCaddyfile(t, string(raw))
		if err != nil {
			t.Fatalf("adapt: %v", err)
		}
		var names []string
		for _, h := range siteHandlers(t, out) {
			names = append(names, handlerName(t, h))
		}
		if wp, rp := slices.Index(names, "wechatpay"), slices.Index(names, "reverse_proxy"); wp < 0 || rp < 0 || wp > rp {
			t.Errorf("handlers %v: want wechatpay before reverse_proxy", names)
		}
	})
	// The optional lines the example leaves commented out adapt once
	// uncommented.
	t.Run("Caddyfile.example with merchant_certificate", func(t *testing.T) {
		const line = "# merchant_certificate {env.WECHATPAY_MERCHANT_CERTIFICATE}"
		if !strings.Contains(ExampleCaddyfile, line) {
			t.Fatalf("Caddyfile.example lacks %q", line)
		}
		out, err := adaptCaddyfile(t, strings.Replace(ExampleCaddyfile, line, strings.TrimPrefix(line, "# "), 1))
		if err != nil {
			t.Fatalf("adapt: %v", err)
		}
		if want := `"merchant_certificate":"{env.WECHATPAY_MERCHANT_CERTIFICATE}"`; !strings.Contains(string(out), want) {
			t.Errorf("adapted to %s, want %s in it", out, want)
		}
	})
}

// TestCaddyfileEveryOption sets every option; placeholders stay verbatim in
// the JSON, to be resolved at Provision.
func TestCaddyfileEveryOption(t *testing.T) {
	input := `:8080 {
	wechatpay {
		mchid {env.WECHATPAY_MCHID}
		serial_no 3775B6A45ACD588826D15E583A95F5DD12345678
		private_key {file./etc/wechatpay/apiclient_key.pem}
		public_key_id PUB_KEY_ID_0114232134912410000000000000
		public_key {env.WECHATPAY_PUBLIC_KEY}
		platform_certificate /etc/wechatpay/platform_1.pem
		platform_certificate {file./etc/wechatpay/platform_2.pem}
		encrypt POST /v3/transfer/batches transfer_detail_list.#.user_name transfer_detail_list.#.user_id_card
		encrypt put /v3/facemch/users/{face_sid} identity.name a\.b.c
		encrypt replace POST /v3/eduschoolpay/contracts/presign identity.real_name query:sign_no
		encrypt GET /v3/custom/query query:card_no query:name
		catalog off
		decrypt_responses
		request_payment
		max_body 2MiB
		wechatpay_serial 5157F09EFDC096DE15EBE81A47057A7232F1B8E1
		verify_responses off
		skip_verify /v3/merchant/media /v3/custom/download/
		allow_hosts wechatpay-proxy *.payments.svc.cluster.local
		allow_hosts proxy.internal
	}
}
`
	want := `{
	"apps": {
		"http": {
			"servers": {
				"srv0": {
					"listen": [":8080"],
					"routes": [
						{
							"handle": [
								{
									"allow_hosts": ["wechatpay-proxy", "*.payments.svc.cluster.local", "proxy.internal"],
									"catalog": false,
									"decrypt_responses": true,
									"encrypt": [
										{
											"fields": ["transfer_detail_list.#.user_name", "transfer_detail_list.#.user_id_card"],
											"method": "POST",
											"path": "/v3/transfer/batches"
										},
										{
											"fields": ["identity.name", "a\\.b.c"],
											"method": "PUT",
											"path": "/v3/facemch/users/{face_sid}"
										},
										{
											"fields": ["identity.real_name"],
											"method": "POST",
											"path": "/v3/eduschoolpay/contracts/presign",
											"query": ["sign_no"],
											"replace": true
										},
										{
											"method": "GET",
											"path": "/v3/custom/query",
											"query": ["card_no", "name"]
										}
									],
									"handler": "wechatpay",
									"max_body": 2097152,
									"mchid": "{env.WECHATPAY_MCHID}",
									"platform_certificate": ["/etc/wechatpay/platform_1.pem", "{file./etc/wechatpay/platform_2.pem}"],
									"private_key": "{file./etc/wechatpay/apiclient_key.pem}",
									"public_key": "{env.WECHATPAY_PUBLIC_KEY}",
									"public_key_id": "PUB_KEY_ID_0114232134912410000000000000",
									"request_payment": true,
									"serial_no": "3775B6A45ACD588826D15E583A95F5DD12345678",
									"skip_verify": ["/v3/merchant/media", "/v3/custom/download/"],
									"verify_responses": false,
									"wechatpay_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
								}
							]
						}
					]
				}
			}
		}
	}
}`
	assertAdapt(t, input, want)
}

// TestCaddyfileSmallForms: verify_responses and catalog on, decrypt_responses
// off, a repeated skip_verify, a path matcher before the block, no block.
func TestCaddyfileSmallForms(t *testing.T) {
	t.Run("verify on, skip_verify twice", func(t *testing.T) {
		assertAdapt(t, `:8080 {
	wechatpay {
		catalog on
		decrypt_responses off
		verify_responses on
		skip_verify /v3/a
		skip_verify /v3/b /v3/c
		max_body 512KB
	}
}
`, `{"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":[{"handle":[
	{"catalog":true,"handler":"wechatpay","max_body":512000,"skip_verify":["/v3/a","/v3/b","/v3/c"],"verify_responses":true}
]}]}}}}}`)
	})
	t.Run("path matcher", func(t *testing.T) {
		assertAdapt(t, `:8080 {
	wechatpay /v3/* {
		mchid 1900000001
	}
}
`, `{"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":[{"match":[{"path":["/v3/*"]}],"handle":[
	{"handler":"wechatpay","mchid":"1900000001"}
]}]}}}}}`)
	})
	t.Run("no block", func(t *testing.T) {
		assertAdapt(t, ":8080 {\n\twechatpay\n}\n",
			`{"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":[{"handle":[{"handler":"wechatpay"}]}]}}}}}`)
	})
}

func TestCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, block, want string
	}{
		{"unknown option", "mchid 1\n\t\tmch_id 1", `unrecognized wechatpay option "mch_id"`},
		{"mchid twice", "mchid 1\n\t\tmchid 2", "mchid given more than once"},
		{"private_key twice", "private_key a\n\t\tprivate_key b", "private_key given more than once"},
		{"verify_responses twice", "verify_responses on\n\t\tverify_responses on", "verify_responses given more than once"},
		{"max_body twice", "max_body 1MB\n\t\tmax_body 2MB", "max_body given more than once"},
		{"missing argument", "serial_no", "wrong argument count or unexpected line ending after 'serial_no'"},
		{"missing platform_certificate", "platform_certificate", "wrong argument count or unexpected line ending after 'platform_certificate'"},
		{"too many arguments", "mchid 1900000001 1900000002", "wrong argument count or unexpected line ending after '1900000001'"},
		{"encrypt without fields", "encrypt POST /v3/x", "encrypt needs a method, a path and at least one field"},
		{"encrypt alone", "encrypt", "encrypt needs a method, a path and at least one field"},
		{"encrypt replace without fields", "encrypt replace POST /v3/x", "encrypt needs a method, a path and at least one field"},
		{"encrypt empty query name", "encrypt GET /v3/x query:", `encrypt: "query:" names no query parameter`},
		{"max_body not a size", "max_body lots", `max_body: "lots" is not a size such as 1MiB or 512KB`},
		{"max_body zero", "max_body 0", `max_body: "0" is not a size`},
		{"max_body negative", "max_body -1MB", `max_body: "-1MB" is not a size`},
		{"max_body missing", "max_body", "wrong argument count or unexpected line ending after 'max_body'"},
		{"verify_responses maybe", "verify_responses maybe", `verify_responses: want on or off, got "maybe"`},
		{"verify_responses true", "verify_responses true", `verify_responses: want on or off, got "true"`},
		{"catalog maybe", "catalog maybe", `catalog: want on or off, got "maybe"`},
		{"catalog missing", "catalog", "wrong argument count or unexpected line ending after 'catalog'"},
		{"catalog twice", "catalog on\n\t\tcatalog off", "catalog given more than once"},
		{"decrypt_responses maybe", "decrypt_responses maybe", `decrypt_responses: want on or off, got "maybe"`},
		{"decrypt_responses twice", "decrypt_responses\n\t\tdecrypt_responses on", "decrypt_responses given more than once"},
		{"decrypt_responses too many", "decrypt_responses on off", "wrong argument count or unexpected line ending after 'off'"},
		{"request_payment maybe", "request_payment maybe", `request_payment: want on or off, got "maybe"`},
		{"request_payment twice", "request_payment\n\t\trequest_payment on", "request_payment given more than once"},
		{"skip_verify without path", "skip_verify", "wrong argument count or unexpected line ending after 'skip_verify'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := ":8080 {\n\twechatpay {\n\t\t" + tc.block + "\n\t}\n}\n"
			out, err := adaptCaddyfile(t, input)
			if err == nil {
				t.Fatalf("accepted: %s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Caddyfile:") {
				t.Errorf("error %q does not name the Caddyfile line", err)
			}
		})
	}
	// An argument after the directive name (not a matcher) is an error.
	t.Run("argument after directive name", func(t *testing.T) {
		_, err := adaptCaddyfile(t, ":8080 {\n\twechatpay foo {\n\t\tmchid 1\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), "wrong argument count or unexpected line ending after 'foo'") {
			t.Errorf("error = %v", err)
		}
	})
}

// TestCaddyfileValuesCheckedAtProvision: the parser maps tokens to fields;
// what a value must be is checked when Caddy provisions the handler (caddy
// validate, caddy run), and the error names the option.
func TestCaddyfileValuesCheckedAtProvision(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	keyFile := testkit.WriteFile(t, t.TempDir(), "apiclient_key.pem", keys.pkcs8)
	t.Setenv("WECHATPAY_TEST_PUBLIC_KEY", keys.public)
	for _, tc := range []struct{ name, line, want string }{
		{"encrypt replace twice", "encrypt replace replace /v3/x a", `encrypt: "REPLACE" is not an HTTP method`},
		{"encrypt bad method", "encrypt FETCH /v3/x a", `encrypt: "FETCH" is not an HTTP method`},
		{"encrypt path without slash", "encrypt POST v3/x a", `encrypt: path "v3/x" must start with /`},
		{"encrypt empty segment", "encrypt POST /v3/x a..b", `encrypt: POST /v3/x: field path "a..b" has an empty segment`},
		{"encrypt wildcard", "encrypt POST /v3/x a.*", `encrypt: POST /v3/x: field path "a.*" uses '*'`},
		{"encrypt trailing #", "encrypt POST /v3/x list.#", `encrypt: POST /v3/x: field path "list.#" ends with #`},
		{"skip_verify without slash", "skip_verify /v3/ok v3/download", `skip_verify: path "v3/download" must start with /`},
		{"allow_paths without slashes", "allow_paths /v2", `allow_paths: prefix "/v2" must start and end with /`},
		{"allow_hosts every name", "allow_hosts proxy *", `allow_hosts: "*" is too wide a wildcard`},
		{"allow_hosts with a port", "allow_hosts proxy:9180", `allow_hosts: "proxy:9180" must be a host name alone`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := adaptCaddyfile(t, ":8080 {\n\twechatpay {\n"+
				"\t\tmchid "+c.MchID+"\n\t\tserial_no "+c.SerialNo+"\n\t\tprivate_key {file."+keyFile+"}\n"+
				"\t\tpublic_key_id "+c.PublicKeyID+"\n\t\tpublic_key {env.WECHATPAY_TEST_PUBLIC_KEY}\n"+
				"\t\t"+tc.line+"\n\t}\n}\n")
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			h := new(Handler)
			if err := json.Unmarshal(siteHandlers(t, out)[0], h); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Provision: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestUnmarshalCaddyfileDirect exercises UnmarshalCaddyfile without the
// adapter (as other modules' tests do), checking the struct it fills.
func TestUnmarshalCaddyfileDirect(t *testing.T) {
	d := caddyfile.NewTestDispenser(`wechatpay {
		mchid 1900000001
		platform_certificate a.pem
		platform_certificate b.pem
		encrypt post /v3/x/{id} list.#.name
		max_body 1MiB
		verify_responses on
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if h.MchID != "1900000001" || len(h.PlatformCertificate) != 2 || h.PlatformCertificate[1] != "b.pem" ||
		len(h.Encrypt) != 1 || h.Encrypt[0].Method != "POST" || h.Encrypt[0].Path != "/v3/x/{id}" ||
		h.MaxBody != 1<<20 || h.VerifyResponses == nil || !*h.VerifyResponses {
		t.Errorf("unexpected handler %+v", h)
	}
}

// ---- Provision: start-up failures -----------------------------------------

// provisionKeys holds the PEM texts the Provision tests use, made once.
type provisionKeys struct {
	pkcs8, pkcs1, public, cert string
	small                      string // 1024-bit PKCS #8
	ec                         string // P-256 PKCS #8
	secrets                    []string
}

var (
	provKeysOnce sync.Once
	provKeys     provisionKeys
)

func testProvisionKeys(t testing.TB) *provisionKeys {
	c := testkit.Creds()
	provKeysOnce.Do(func() {
		provKeys.pkcs8 = testkit.PKCS8(c.MerchantKey)
		provKeys.pkcs1 = testkit.PKCS1(c.MerchantKey)
		provKeys.public = testkit.PublicPEM(&c.WechatPayKey.PublicKey)
		provKeys.cert = testkit.CertPEM(c.PlatformCert)
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		provKeys.small = testkit.PKCS8(small)
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		provKeys.ec = testkit.PKCS8(ec)
		provKeys.secrets = []string{provKeys.pkcs8, provKeys.pkcs1, provKeys.small, provKeys.ec}
	})
	return &provKeys
}

// pemBody returns the base64 of a PEM text's first block on one line.
func pemBody(t testing.TB, text string) string {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		t.Fatal("no PEM block")
	}
	return base64.StdEncoding.EncodeToString(block.Bytes)
}

// assertNoKeyMaterial fails if msg quotes a PEM armour or any 16-character
// run of the base64 of one of the private keys.
func assertNoKeyMaterial(t *testing.T, msg string, keys *provisionKeys) {
	t.Helper()
	if strings.Contains(msg, "-----BEGIN") || strings.Contains(msg, "-----END") {
		t.Errorf("error quotes a PEM armour: %q", msg)
	}
	for _, secret := range keys.secrets {
		b64 := pemBody(t, secret)
		// Skip the first 48 characters: the PKCS #8 / #1 header and the
		// start of the modulus are the same for many keys and public.
		for i := 48; i+16 <= len(b64); i += 4 {
			if strings.Contains(msg, b64[i:i+16]) {
				t.Errorf("error quotes private key material: %q", msg)
				return
			}
		}
	}
}

// provisionJSON builds a Handler from JSON, as Caddy does, and provisions it.
func provisionJSON(t *testing.T, cfg map[string]any) (*Handler, error) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := new(Handler)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := provisionFrom(t, ctx, h, raw); err != nil {
		return h, err
	}
	return h, h.Validate()
}

func TestProvisionErrors(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	dir := t.TempDir()
	keyFile := testkit.WriteFile(t, dir, "apiclient_key.pem", keys.pkcs8)
	pubFile := testkit.WriteFile(t, dir, "pub_key.pem", keys.public)
	certFile := testkit.WriteFile(t, dir, "cert.pem", keys.cert)
	rawBase64 := pemBody(t, keys.pkcs8)
	wrapped := strings.Join(strings.Split(strings.TrimSpace(keys.pkcs8), "\n")[1:len(strings.Split(strings.TrimSpace(keys.pkcs8), "\n"))-1], "\n")
	garbageDER := "-----BEGIN PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("not a key ", 20))) + "\n-----END PRIVATE KEY-----\n"

	base := func() map[string]any {
		return map[string]any{
			"mchid":         c.MchID,
			"serial_no":     c.SerialNo,
			"private_key":   keyFile,
			"public_key_id": c.PublicKeyID,
			"public_key":    pubFile,
		}
	}
	with := func(kv ...any) map[string]any {
		m := base()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	t.Setenv("WECHATPAY_TEST_UNSET_VAR", "")
	tests := []struct {
		name   string
		cfg    map[string]any
		option string // the option the message must name
		want   string
	}{
		{"missing mchid", with("mchid", nil), "mchid", "mchid is required"},
		{"non-digit mchid", with("mchid", "19000x0001"), "mchid", "mchid must be the merchant number, digits only"},
		{"missing serial_no", with("serial_no", nil), "serial_no", "serial_no is required"},
		{"non-hex serial_no", with("serial_no", "3775-B6A4"), "serial_no", "serial_no must be hexadecimal"},
		{"missing private_key", with("private_key", nil), "private_key", "private_key is required"},
		{"private_key file missing", with("private_key", dir+"/nope.pem"), "private_key", "private_key: reading file " + dir + "/nope.pem: no such file or directory"},
		{"private_key garbage PEM", with("private_key", "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n"), "private_key", "private_key: holds no PEM block"},
		{"private_key garbage DER", with("private_key", garbageDER), "private_key", "private_key: parsing PRIVATE KEY"},
		{"private_key is a public key", with("private_key", keys.public), "private_key", `private_key: holds a "PUBLIC KEY" PEM block`},
		{"private_key is a certificate", with("private_key", certFile), "private_key", `private_key: holds a "CERTIFICATE" PEM block`},
		{"private_key 1024-bit", with("private_key", keys.small), "private_key", "private_key: is a 1024-bit RSA key; WeChat Pay uses at least 2048 bits"},
		{"private_key EC", with("private_key", keys.ec), "private_key", "private_key: is a *ecdsa.PrivateKey, not an RSA key"},
		{"private_key raw base64", with("private_key", rawBase64), "private_key", "private_key: is neither PEM text nor a readable file path"},
		{"private_key base64 lines without armour", with("private_key", wrapped), "private_key", "private_key: is neither PEM text nor a readable file path"},
		{"private_key {env.UNSET}", with("private_key", "{env.WECHATPAY_TEST_UNSET_VAR}"), "private_key", "private_key is required"},
		{"private_key {file.missing}", with("private_key", "{file."+dir+"/nope.pem}"), "private_key", "private_key is required"},
		{"private_key unknown placeholder", with("private_key", "{wechatpay.key}"), "private_key", "private_key: unrecognized placeholder {wechatpay.key}"},
		{"no WeChat Pay key", with("public_key", nil, "public_key_id", nil), "public_key", "public_key (with public_key_id) or platform_certificate is required"},
		{"public_key without public_key_id", with("public_key_id", nil), "public_key_id", "public_key_id and public_key go together"},
		{"public_key_id without public_key", with("public_key", nil, "platform_certificate", []string{certFile}), "public_key_id", "public_key_id and public_key go together"},
		{"public_key_id bad prefix", with("public_key_id", "0114232134912410000000000000"), "public_key_id", "public_key_id must start with PUB_KEY_ID_"},
		{"public_key is a certificate", with("public_key", certFile), "public_key", "public_key: holds a certificate; give it as platform_certificate instead"},
		{"public_key is a private key", with("public_key", keyFile), "public_key", `public_key: holds a "PRIVATE KEY" PEM block; want PUBLIC KEY`},
		{"platform_certificate is a public key", with("platform_certificate", []string{certFile, pubFile}), "platform_certificate", `platform_certificate #2: holds a "PUBLIC KEY" PEM block; want CERTIFICATE`},
		{"platform_certificate twice", with("platform_certificate", []string{certFile, keys.cert}), "platform_certificate", "platform_certificate #2: serial " + c.PlatformSerial + " given twice"},
		{"wechatpay_serial unknown", with("wechatpay_serial", "DEADBEEF"), "wechatpay_serial", "wechatpay_serial: DEADBEEF is neither public_key_id nor the serial of a platform_certificate"},
		{"max_body negative", with("max_body", -1), "max_body", "max_body must not be negative"},
		{"skip_verify relative", with("skip_verify", []string{"v3/x"}), "skip_verify", `skip_verify: path "v3/x" must start with /`},
		{"encrypt bad field", with("encrypt", []map[string]any{{"method": "POST", "path": "/v3/x", "fields": []string{"a..b"}}}), "encrypt", `encrypt: POST /v3/x: field path "a..b" has an empty segment`},
		{"encrypt value and container", with("encrypt", []map[string]any{{"method": "POST", "path": "/v3/x", "fields": []string{"a", "a.b"}}}), "encrypt", `encrypt: POST /v3/x: field "a.b" is inside another field that is itself encrypted`},
		{"encrypt conflicts with built-in rule", with("encrypt", []map[string]any{{"method": "POST", "path": "/v3/eduschoolpay/contracts/presign", "fields": []string{"identity"}}}), "encrypt", `field "identity" is both a value and a container`},
		{"encrypt bad query name", with("encrypt", []map[string]any{{"method": "GET", "path": "/v3/x", "query": []string{"a=b"}}}), "encrypt", `encrypt: GET /v3/x: invalid query parameter name "a=b"`},
		{"encrypt no fields", with("encrypt", []map[string]any{{"method": "GET", "path": "/v3/x"}}), "encrypt", `encrypt: GET /v3/x: no fields`},
		{"encrypt relative path", with("encrypt", []map[string]any{{"method": "POST", "path": "v3/x", "fields": []string{"a"}}}), "encrypt", `encrypt: path "v3/x" must start with /`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provisionJSON(t, tc.cfg)
			if err == nil {
				t.Fatal("provisioned without error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", msg, tc.want)
			}
			if !strings.Contains(msg, tc.option) {
				t.Errorf("error %q does not name the option %s", msg, tc.option)
			}
			assertNoKeyMaterial(t, msg, keys)
		})
	}
}

// TestProvisionShortUnarmouredKey: a short key pasted without its PEM
// armour (here a P-256 key, 184 base64 characters on one line) must not be
// quoted either.
func TestProvisionShortUnarmouredKey(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	dir := t.TempDir()
	pubFile := testkit.WriteFile(t, dir, "pub_key.pem", keys.public)
	_, err := provisionJSON(t, map[string]any{
		"mchid": c.MchID, "serial_no": c.SerialNo, "private_key": pemBody(t, keys.ec),
		"public_key_id": c.PublicKeyID, "public_key": pubFile,
	})
	if err == nil {
		t.Fatal("provisioned without error")
	}
	if strings.Contains(err.Error(), pemBody(t, keys.ec)[48:64]) {
		t.Errorf("the key is quoted in the error: %.60q...", err.Error())
	}
}

func TestProvisionSuccess(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	dir := t.TempDir()
	pkcs8File := testkit.WriteFile(t, dir, "apiclient_key.pem", keys.pkcs8)
	pkcs1File := testkit.WriteFile(t, dir, "apiclient_key_pkcs1.pem", keys.pkcs1)
	pubFile := testkit.WriteFile(t, dir, "pub_key.pem", keys.public)
	certFile := testkit.WriteFile(t, dir, "cert.pem", keys.cert)
	// A warning line before the PEM block, as some tools write.
	commented := testkit.WriteFile(t, dir, "commented.pem", "# merchant 1900000001\n"+keys.pkcs8)
	t.Setenv("WECHATPAY_TEST_PRIVATE_KEY", keys.pkcs8)
	t.Setenv("WECHATPAY_TEST_MCHID", c.MchID)

	tests := []struct {
		name       string
		privateKey string
		extra      map[string]any
		serial     string // the Wechatpay-Serial chosen
	}{
		{"PKCS #8 file", pkcs8File, nil, c.PublicKeyID},
		{"PKCS #1 file", pkcs1File, nil, c.PublicKeyID},
		{"PEM text given directly", keys.pkcs8, nil, c.PublicKeyID},
		{"PKCS #1 PEM text", keys.pkcs1, nil, c.PublicKeyID},
		{"{env.X} holding PEM text", "{env.WECHATPAY_TEST_PRIVATE_KEY}", nil, c.PublicKeyID},
		{"{file./path} placeholder", "{file." + pkcs8File + "}", nil, c.PublicKeyID},
		{"text before the PEM block", commented, nil, c.PublicKeyID},
		{"path with surrounding space", "  " + pkcs8File + "\n", nil, c.PublicKeyID},
		{"platform certificate only", pkcs8File, map[string]any{"public_key": nil, "public_key_id": nil, "platform_certificate": []string{certFile}}, c.PlatformSerial},
		{"both, wechatpay_serial picks the certificate", pkcs8File, map[string]any{"platform_certificate": []string{keys.cert}, "wechatpay_serial": c.PlatformSerial}, c.PlatformSerial},
		{"mchid from env", pkcs8File, map[string]any{"mchid": "{env.WECHATPAY_TEST_MCHID}"}, c.PublicKeyID},
		{"query-only and replace rules", pkcs8File, map[string]any{"encrypt": []map[string]any{
			{"method": "GET", "path": "/v3/custom/{id}", "query": []string{"card_no"}},
			{"method": "POST", "path": "/v3/eduschoolpay/contracts/presign", "fields": []string{"identity.real_name"}, "replace": true},
		}}, c.PublicKeyID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]any{
				"mchid": c.MchID, "serial_no": strings.ToLower(c.SerialNo), "private_key": tc.privateKey,
				"public_key_id": c.PublicKeyID, "public_key": pubFile,
			}
			for k, v := range tc.extra {
				if v == nil {
					delete(cfg, k)
				} else {
					cfg[k] = v
				}
			}
			h, err := provisionJSON(t, cfg)
			if err != nil {
				t.Fatalf("Provision: %v", err)
			}
			if !h.keys().signer.Key.Public().Equal(&c.MerchantKey.PublicKey) {
				t.Error("the merchant key loaded is not the one given")
			}
			if h.keys().signer.MchID != c.MchID || h.keys().signer.SerialNo != c.SerialNo {
				t.Errorf("signer mchid %q serial %q", h.keys().signer.MchID, h.keys().signer.SerialNo)
			}
			if h.keys().serial != tc.serial {
				t.Errorf("Wechatpay-Serial = %q, want %q", h.keys().serial, tc.serial)
			}
			wantKey := &c.WechatPayKey.PublicKey
			if tc.serial == c.PlatformSerial {
				wantKey = &c.PlatformKey.PublicKey
			}
			if !h.keys().encrypter.Key().Equal(wantKey) {
				t.Error("fields would be encrypted under the wrong key")
			}
			if h.MaxBody != proxyhttp.DefaultMaxBody {
				t.Errorf("max_body default = %d", h.MaxBody)
			}
			if h.routes.Lookup("POST", "/v3/eduschoolpay/contracts/presign") == nil {
				t.Error("built-in presign rule missing")
			}
		})
	}
}

// TestCaddyfileThenProvision: what the Caddyfile produces provisions.
func TestCaddyfileThenProvision(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	dir := t.TempDir()
	keyFile := testkit.WriteFile(t, dir, "apiclient_key.pem", keys.pkcs8)
	t.Setenv("WECHATPAY_TEST_PUBLIC_KEY", keys.public)
	out, err := adaptCaddyfile(t, ":8080 {\n\twechatpay {\n"+
		"\t\tmchid "+c.MchID+"\n"+
		"\t\tserial_no "+c.SerialNo+"\n"+
		"\t\tprivate_key {file."+keyFile+"}\n"+
		"\t\tpublic_key_id "+c.PublicKeyID+"\n"+
		"\t\tpublic_key {env.WECHATPAY_TEST_PUBLIC_KEY}\n"+
		"\t\tencrypt POST /v3/facemch/users/{face_sid} identity.name\n"+
		"\t\tmax_body 2MiB\n"+
		"\t}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	handlers := siteHandlers(t, out)
	if len(handlers) != 1 {
		t.Fatalf("handlers: %d", len(handlers))
	}
	h := new(Handler)
	if err := json.Unmarshal(handlers[0], h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if h.MaxBody != 2<<20 {
		t.Errorf("max_body = %d", h.MaxBody)
	}
	if rt := h.routes.Lookup("POST", "/v3/facemch/users/abc123"); rt == nil || rt.Template != "/v3/facemch/users/{face_sid}" {
		t.Errorf("encrypt rule not routed: %+v", rt)
	}
}

// TestProvisionCatalogOff: with catalog off only the encrypt rules apply.
func TestProvisionCatalogOff(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	dir := t.TempDir()
	h, err := provisionJSON(t, map[string]any{
		"mchid": c.MchID, "serial_no": c.SerialNo, "private_key": keys.pkcs8,
		"public_key_id": c.PublicKeyID, "public_key": testkit.WriteFile(t, dir, "pub_key.pem", keys.public),
		"catalog": false,
		"encrypt": []map[string]any{{"method": "POST", "path": "/v3/custom/{id}", "fields": []string{"name"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.routes.Lookup("POST", "/v3/eduschoolpay/contracts/presign") != nil {
		t.Error("catalog off, yet the presign route is known")
	}
	if rt := h.routes.Lookup("POST", "/v3/custom/42"); rt == nil || rt.Template != "/v3/custom/{id}" {
		t.Errorf("encrypt rule not routed: %+v", rt)
	}
}

package wechatpay

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzCaddyfile feeds arbitrary text to the wechatpay block's parser: it
// must never panic, and whatever it accepts must be well formed.
func FuzzCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"mchid 1900000001\nserial_no 3775B6A45ACD588826D15E583A95F5DD12345678",
		"private_key {env.WECHATPAY_PRIVATE_KEY}\npublic_key {file./etc/wechatpay/pub_key.pem}",
		"encrypt post /v3/x/{id} a.#.b c\\.d\nencrypt PUT /v3/y z",
		"encrypt replace GET /v3/y query:a query:b\ncatalog off\ndecrypt_responses",
		"decrypt_responses on\ncatalog on",
		"max_body 2MiB\nverify_responses off\nskip_verify /v3/a /v3/b/",
		"platform_certificate a.pem\nplatform_certificate \"b c.pem\"",
		"mchid `1900000001`\nwechatpay_serial PUB_KEY_ID_01 {\n}",
		"encrypt POST /v3/x a..b",
		"max_body 99999999999999999999999EB",
		"mchid {\n}\n}",
		"encrypt POST /v3/x <<EOF\n  a.b\n  EOF",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, block string) {
		tokens, err := caddyfile.Tokenize([]byte("wechatpay {\n"+block+"\n}\n"), "Caddyfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		raw, err := json.Marshal(&h)
		if err != nil {
			t.Fatalf("the parsed handler does not marshal: %v", err)
		}
		var back Handler
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("the handler's JSON %s does not unmarshal: %v", raw, err)
		}
		// Provision checks the values once: what it refuses, it refuses
		// naming the option; what it accepts is well formed.
		err = h.checkOptions()
		if err == nil {
			err = h.compileRoutes()
		}
		if err != nil {
			if !regexp.MustCompile(`^(built-in catalog|encrypt|skip_verify|allow_paths|max_body)\b`).MatchString(err.Error()) {
				t.Fatalf("refused without naming the option: %v", err)
			}
			return
		}
		for _, r := range h.Encrypt {
			if !validMethod(r.Method) || !strings.HasPrefix(r.Path, "/") || len(r.Fields)+len(r.Query) == 0 {
				t.Fatalf("accepted a malformed encrypt rule %+v", r)
			}
			for _, q := range r.Query {
				if q == "" {
					t.Fatalf("accepted an empty query parameter name in %+v", r)
				}
			}
			for _, p := range r.Fields {
				if _, err := jsonfield.NewSet(p); err != nil {
					t.Fatalf("accepted field path %q: %v", p, err)
				}
			}
		}
		for _, p := range h.SkipVerify {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("accepted skip_verify %q", p)
			}
		}
		if h.MaxBody < 0 || h.MaxBody > 1<<40 {
			t.Fatalf("accepted max_body %d", h.MaxBody)
		}
	})
}

package wechatpay

import (
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestAPIv2KeyCaddyfile: apiv2_key adapts to its placeholder, in the handler
// and in a merchant's block; a key written literally stops the adapter,
// and neither the error nor any JSON holds it.
func TestAPIv2KeyCaddyfile(t *testing.T) {
	for _, input := range []string{
		":8080 {\n\twechatpay {\n\t\tmchid 1900000001\n\t\tapiv2_key {env.WECHATPAY_APIV2_KEY}\n\t}\n}\n",
		"{\n\twechatpay {\n\t\tmerchant shop {\n\t\t\tmchid 1900000001\n\t\t\tapiv2_key {file./etc/wechatpay/apiv2_key.txt}\n\t\t}\n\t}\n}\n:8080 {\n\trespond ok\n}\n",
	} {
		out, err := adaptCaddyfile(t, input)
		if err != nil {
			t.Fatalf("adapt: %v", err)
		}
		if !strings.Contains(string(out), `"apiv2_key":"{env.WECHATPAY_APIV2_KEY}"`) &&
			!strings.Contains(string(out), `"apiv2_key":"{file./etc/wechatpay/apiv2_key.txt}"`) {
			t.Errorf("adapted to %s", out)
		}
	}
	const literal = "Zq3xK9mP2vL8nB4cR7tY1wE6uI0oA5sD"
	for _, input := range []string{
		":8080 {\n\twechatpay {\n\t\tapiv2_key " + literal + "\n\t}\n}\n",
		":8080 {\n\twechatpay {\n\t\tapiv2_key {env.A}{env.B}\n\t}\n}\n",
		"{\n\twechatpay {\n\t\tmerchant shop {\n\t\t\tapiv2_key " + literal + "\n\t\t}\n\t}\n}\n:8080 {\n\trespond ok\n}\n",
	} {
		out, err := adaptCaddyfile(t, input)
		if err == nil || !strings.Contains(err.Error(), "apiv2_key must be a placeholder") {
			t.Errorf("adapt: %v, %s", err, out)
		}
		if err != nil && strings.Contains(err.Error(), literal) || strings.Contains(string(out), literal) {
			t.Errorf("the key is quoted: %v %s", err, out)
		}
	}
}

// TestCaddyfileExampleAPIv2Key: the example's commented apiv2_key line
// adapts once uncommented (the demo turns it on with a {file.} path).
func TestCaddyfileExampleAPIv2Key(t *testing.T) {
	const line = "# apiv2_key {env.WECHATPAY_APIV2_KEY}"
	if !strings.Contains(ExampleCaddyfile, line) {
		t.Fatalf("Caddyfile.example lacks %q", line)
	}
	out, err := adaptCaddyfile(t, strings.Replace(ExampleCaddyfile, line, strings.TrimPrefix(line, "# "), 1))
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	if want := `"apiv2_key":"{env.WECHATPAY_APIV2_KEY}"`; !strings.Contains(string(out), want) {
		t.Errorf("adapted to %s, want %s in it", out, want)
	}
}

// TestFrontendSignaturesDocCaddyfile: the page's example adapts, with the
// key as its placeholder.
func TestFrontendSignaturesDocCaddyfile(t *testing.T) {
	out, err := adaptCaddyfile(t, testkit.DocsCaddyfile(t, "docs/frontend-signatures.md", "# Coupons and payscore: the front-end signatures made with the APIv2 key"))
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	if !strings.Contains(string(out), `"apiv2_key":"{file./etc/wechatpay/apiv2_key.txt}"`) {
		t.Errorf("adapted to %s", out)
	}
}

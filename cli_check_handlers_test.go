package wechatpay

import (
	"encoding/json"
	"testing"
)

// TestUpstreamURL: the base URL of a reverse_proxy as Caddy's JSON
// writes it, "" where the address is not fixed.
func TestUpstreamURL(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"handler":"reverse_proxy","transport":{"protocol":"http","tls":{}},"upstreams":[{"dial":"api.mch.weixin.qq.com:443"}]}`, "https://api.mch.weixin.qq.com"},
		{`{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:9181"}]}`, "http://127.0.0.1:9181"},
		{`{"handler":"reverse_proxy","upstreams":[{"dial":"sandbox:80"}]}`, "http://sandbox"},
		{`{"handler":"reverse_proxy","transport":{"tls":{}},"upstreams":[{"dial":"[::1]:8443"}]}`, "https://[::1]:8443"},
		{`{"handler":"reverse_proxy","upstreams":[{"dial":"{env.UPSTREAM}"}]}`, ""},
		{`{"handler":"reverse_proxy","dynamic_upstreams":{"source":"srv"}}`, ""},
	} {
		if got := upstreamURL(json.RawMessage(tc.json)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.json, got, tc.want)
		}
	}
}

// TestCheckFindsTheExampleHandler: Caddyfile.example's handler, with keys
// of its own, is checked against WeChat Pay's domain and its backup (the
// default list), since its reverse_proxy is WeChat Pay's domain.
func TestCheckFindsTheExampleHandler(t *testing.T) {
	targets, err := checkTargets(checkOptions{configFile: "Caddyfile.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].name != "wechatpay handler #1 of server srv0 (127.0.0.1:9180)" || targets[0].urls != nil ||
		targets[0].keys.mchid != "{env.WECHATPAY_MCHID}" {
		for _, tg := range targets {
			t.Logf("%q %v", tg.name, tg.urls)
		}
		t.Fatalf("%d targets, want the handler of :9180 with the default URLs", len(targets))
	}
}

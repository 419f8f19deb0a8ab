package sandbox

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestLogHoldsNothingSecret(t *testing.T) {
	var buf bytes.Buffer
	h := newHarness(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) })
	ct := encPub(t, "6222000011112222")
	h.do(t, rawRequest{method: "GET", uri: "/v3/aggracct-bc/wb-channel/account/balance?bal_account_no=" + url.QueryEscape(ct),
		header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
	h.do(t, rawRequest{method: "POST", uri: PresignPath, body: []byte(`{"identity":{"real_name":"张三"}}`)})
	log := buf.String()
	if !strings.Contains(log, "status=200") || !strings.Contains(log, "code=PARAM_ERROR") {
		t.Errorf("log lacks the outcome: %s", log)
	}
	for _, secret := range []string{"6222000011112222", ct[:20], "张三", "signature", "Authorization", "bal_account_no"} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds %q: %s", secret, log)
		}
	}
}

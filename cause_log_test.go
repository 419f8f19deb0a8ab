package wechatpay

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/sensitive"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestProxyErrorLogsItsCause: a 500 the proxy makes itself (here an
// encryption that fails: the WeChat Pay key is unusable)
// logs the cause of the failure, naming the field and never its value.
func TestProxyErrorLogsItsCause(t *testing.T) {
	h, logs := provisionedHandler(t, "")
	broken := testkit.Creds().WechatPayKey.PublicKey
	broken.E = 1 // crypto/rsa refuses to encrypt with it
	keys := *h.keys()
	keys.encrypter = sensitive.NewEncrypter(&broken)
	h.keySource = keySource{keys: func() *keySet { return &keys }}
	w, forwarded, _ := serve(t, h, httptest.NewRequest("POST", sandbox.PresignPath, strings.NewReader(testkit.PresignBody)), nil)
	if w.Code != http.StatusInternalServerError || forwarded != nil {
		t.Fatalf("%d %s (forwarded: %v), want 500", w.Code, w.Body, forwarded != nil)
	}
	refused := logs.FilterMessage("refused").All()
	if len(refused) != 1 {
		t.Fatalf("%d refusal lines", len(refused))
	}
	cause, _ := refused[0].ContextMap()["cause"].(string)
	if !strings.Contains(cause, "encrypting identity.") || !strings.Contains(cause, "exponent") {
		t.Errorf("cause %q, want the field and crypto/rsa's reason", cause)
	}
	for _, e := range logs.All() {
		for _, v := range e.ContextMap() {
			for _, plain := range testkit.PresignPlain {
				if s, ok := v.(string); ok && strings.Contains(s, plain) {
					t.Errorf("the log quotes a value: %s", s)
				}
			}
		}
	}
}

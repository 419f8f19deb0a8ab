package apiv3

import (
	"crypto/rsa"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestExpiredAuthentic: an expired timestamp is refused either way, and
// Authentic says whether WeChat Pay's key signed it (signed by the SDK's
// helper): a forged or malformed signature never is.
func TestExpiredAuthentic(t *testing.T) {
	c := testkit.Creds()
	now := time.Unix(1_800_000_000, 0)
	v := NewVerifier(map[string]*rsa.PublicKey{c.PublicKeyID: &c.WechatPayKey.PublicKey})
	v.Now = func() time.Time { return now }
	body := []byte(`{"id":"EV-1"}`)
	for _, tc := range []struct {
		name      string
		key       *rsa.PrivateKey
		signature string
		shift     int64
		authentic bool
	}{
		{"signed, 400 s old", c.WechatPayKey, "", -400, true},
		{"signed, 400 s ahead", c.WechatPayKey, "", 400, true},
		{"another key, 400 s old", c.PlatformKey, "", -400, false},
		{"not base64, 400 s old", c.WechatPayKey, "!!!", -400, false},
	} {
		h := http.Header{}
		testkit.SignWechatPay(t, h, tc.key, c.PublicKeyID, now.Unix()+tc.shift, "NONCE", body, tc.signature)
		ve := AsVerifyError(v.Verify(h, body))
		if ve.Code != CodeTimestampExpired || ve.Authentic != tc.authentic {
			t.Errorf("%s: %s, authentic %v; want %s, %v", tc.name, ve.Code, ve.Authentic, CodeTimestampExpired, tc.authentic)
		}
	}
}

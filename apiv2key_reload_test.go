package wechatpay

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// hmacV2With is the V2 rule with key, computed apart from the module.
func hmacV2With(key, message string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(message + "&key=" + key))
	return fmt.Sprintf("%X", mac.Sum(nil))
}

// TestAPIv2KeyReloads: a key reload reads apiv2_key again, for a handler
// with keys of its own and for a merchant of the app, and counts a new
// APIv2 key as a change; the handler signs with the new key at once.
func TestAPIv2KeyReloads(t *testing.T) {
	const newKey = "Hk2Pq7Wz4Rt9Lm1Xc6Vb3Nj8Gf5Ds0Ae"
	body := `{"send_coupon_params":[{"stock_id":"1212","out_request_no":"REQ1"}]}`
	message := "out_request_no0=REQ1&send_coupon_merchant=" + testkit.Creds().MchID + "&stock_id0=1212"

	h, _ := apiv2Handler(t)
	w, _ := postForm(t, h, sendCouponPath, body)
	if !strings.Contains(w.Body.String(), hmacV2With(testAPIv2Key, message)) {
		t.Fatalf("before the reload: %d %s", w.Code, w.Body)
	}
	t.Setenv("TEST_WECHATPAY_APIV2_KEY", newKey)
	before := h.currentKeys()
	commit, err := h.prepareReload()
	if err != nil {
		t.Fatal(err)
	}
	commit()
	if sameKeys(before, h.currentKeys()) {
		t.Error("a new APIv2 key is not counted as a change")
	}
	w, _ = postForm(t, h, sendCouponPath, body)
	if !strings.Contains(w.Body.String(), hmacV2With(newKey, message)) {
		t.Errorf("after the reload the handler does not sign with the new APIv2 key: %d %s", w.Code, w.Body)
	}

	// A merchant of the app.
	t.Setenv("TEST_WECHATPAY_APIV2_KEY", testAPIv2Key)
	m := withPublicKey(t, testMerchant(t, "http://127.0.0.1:1"))
	m.APIv3Key, m.APIv2Key = "", "{env.TEST_WECHATPAY_APIV2_KEY}"
	if err := m.provision("school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if got := string(m.currentKeys().apiv2Key); got != testAPIv2Key {
		t.Fatal("the merchant's APIv2 key is not in its key set")
	}
	t.Setenv("TEST_WECHATPAY_APIV2_KEY", newKey)
	if commit, err = m.prepareReload(); err != nil {
		t.Fatal(err)
	}
	commit()
	if got := string(m.currentKeys().apiv2Key); got != newKey {
		t.Error("after the reload the merchant keeps its old APIv2 key")
	}
	t.Setenv("TEST_WECHATPAY_APIV2_KEY", "short")
	if _, err := m.prepareReload(); err == nil || !strings.Contains(err.Error(), "apiv2_key") {
		t.Errorf("a reload to a broken APIv2 key: %v", err)
	}
}

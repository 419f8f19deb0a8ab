package sandbox

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestDateIsTheSandboxClock: the Date header of an answer is the
// sandbox's clock, as WeChat Pay's is its own, so a client can measure its
// skew against it (caddy wechatpay check does).
func TestDateIsTheSandboxClock(t *testing.T) {
	skewed := time.Now().Add(90 * time.Second)
	h := newHarness(t, func(c *Config) { c.Now = func() time.Time { return skewed } })
	resp, _ := h.do(t, rawRequest{method: "GET", uri: CertificatesPath, timestamp: skewed.Unix()})
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	if !date.Equal(skewed.UTC().Truncate(time.Second)) {
		t.Errorf("Date %s, want the sandbox clock %s", date, skewed.UTC().Truncate(time.Second))
	}
}

// TestCertificatesForAGoLiveCheck: the two answers a go-live check reads
// from GET /v3/certificates: for a merchant on the public key, 404
// RESOURCE_NOT_EXISTS signed with the public key it names (which the
// official SDK's validator accepts); for a request signed with another
// key, 401 SIGN_ERROR with WeChat Pay's message and detail.field.
func TestCertificatesForAGoLiveCheck(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.SetPublicKeyOnly(true)
	resp, body := h.do(t, rawRequest{method: "GET", uri: CertificatesPath, header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
	var e struct {
		Code, Message string
		Detail        struct{ Field string }
	}
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusNotFound || e.Code != "RESOURCE_NOT_EXISTS" {
		t.Fatalf("public-key merchant: %d %s (%v)", resp.StatusCode, body, err)
	}
	if got := resp.Header.Get("Wechatpay-Serial"); got != creds.PublicKeyID {
		t.Errorf("the 404 is signed with %q, want the public key %s", got, creds.PublicKeyID)
	}
	if err := sdkValidator().Validate(t.Context(), resp); err != nil {
		t.Errorf("the official SDK refuses the signed 404: %v", err)
	}
	// Naming no key, or one the merchant does not have, it is signed with
	// the public key too: the merchant has no platform certificate.
	for _, serial := range []string{"", "PUB_KEY_ID_0114232134912410000000000777"} {
		resp, _ = h.do(t, rawRequest{method: "GET", uri: CertificatesPath, header: map[string]string{"Wechatpay-Serial": serial}})
		if got := resp.Header.Get("Wechatpay-Serial"); resp.StatusCode != http.StatusNotFound || got != creds.PublicKeyID {
			t.Errorf("Wechatpay-Serial %q: %d signed with %q, want 404 signed with the public key %s", serial, resp.StatusCode, got, creds.PublicKeyID)
		}
	}

	resp, body = h.do(t, rawRequest{method: "GET", uri: CertificatesPath, key: otherKey})
	e.Code, e.Message = "", ""
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusUnauthorized || e.Code != "SIGN_ERROR" {
		t.Fatalf("another key: %d %s (%v)", resp.StatusCode, body, err)
	}
	if e.Message != "错误的签名，验签失败" || e.Detail.Field != "signature" {
		t.Errorf("another key: message %q, detail.field %q", e.Message, e.Detail.Field)
	}
}

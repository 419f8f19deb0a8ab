package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
)

// validateWith checks an answer with the official SDK's validator knowing
// only one merchant's WeChat Pay keys.
func validateWith(c *Credentials, resp *http.Response, body []byte) error {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	getter := core.NewCertificateMapWithList([]*x509.Certificate{c.PlatformCertificate})
	v := validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSACombinedVerifier(getter, c.PublicKeyID, *c.PublicKey))
	return v.Validate(context.Background(), resp)
}

// twoMerchants writes a second set beside the package's, in one directory
// as keygen writes them, and serves both from one Merchants handler.
func twoMerchants(t *testing.T) (*harness, *Credentials, *Credentials) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "a"), os.DirFS(credsDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateCredentials(filepath.Join(dir, "b"), "1900000110"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a set"), 0o600); err != nil {
		t.Fatal(err)
	}
	sets, err := LoadCredentialSets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].MchID != creds.MchID || sets[1].MchID != "1900000110" {
		t.Fatalf("sets: %d", len(sets))
	}
	h := &harness{}
	var servers []*Server
	for _, c := range sets {
		cfg := c.ServerConfig()
		cfg.Observer = func(x Exchange) {
			h.mu.Lock()
			h.xs = append(h.xs, x)
			h.mu.Unlock()
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	m, err := NewMerchants(servers...)
	if err != nil {
		t.Fatal(err)
	}
	h.ts = httptest.NewServer(m)
	t.Cleanup(h.ts.Close)
	return h, sets[0], sets[1]
}

// TestMerchantsJudgeEachByItsKeys: one sandbox, two credential sets; each
// merchant's requests are judged by its own certificate and answered with
// its own WeChat Pay keys, and each keeps its own contracts.
func TestMerchantsJudgeEachByItsKeys(t *testing.T) {
	h, a, b := twoMerchants(t)
	for _, c := range []*Credentials{a, b} {
		other := b
		if c == b {
			other = a
		}
		resp, raw := h.do(t, rawRequest{method: http.MethodPost, uri: NativePayPath, body: []byte(`{}`),
			mchid: c.MchID, serial: c.MerchantSerial, key: c.MerchantPrivateKey})
		if resp.StatusCode != 200 {
			t.Fatalf("merchant %s: %d %s", c.MchID, resp.StatusCode, raw)
		}
		if err := validateWith(c, resp, raw); err != nil {
			t.Errorf("merchant %s: answer not signed with its own WeChat Pay key: %v", c.MchID, err)
		}
		if err := validateWith(other, resp, raw); err == nil {
			t.Errorf("merchant %s: answer verifies with the other merchant's WeChat Pay key", c.MchID)
		}
		// Its mchid with the other merchant's certificate serial and key.
		resp, raw = h.do(t, rawRequest{method: http.MethodPost, uri: NativePayPath, body: []byte(`{}`),
			mchid: c.MchID, serial: other.MerchantSerial, key: other.MerchantPrivateKey})
		if e := decodeErr(t, raw); resp.StatusCode != 401 || e.Code != "SIGN_ERROR" || e.Detail["field"] != "serial_no" {
			t.Errorf("merchant %s with the other's serial: %d %s", c.MchID, resp.StatusCode, raw)
		}
		// Its mchid and serial, signed with the other merchant's key.
		resp, raw = h.do(t, rawRequest{method: http.MethodPost, uri: NativePayPath, body: []byte(`{}`),
			mchid: c.MchID, serial: c.MerchantSerial, key: other.MerchantPrivateKey})
		if e := decodeErr(t, raw); resp.StatusCode != 401 || e.Code != "SIGN_ERROR" || e.Detail["field"] != "signature" {
			t.Errorf("merchant %s signed with the other's key: %d %s", c.MchID, resp.StatusCode, raw)
		}
	}
	resp, raw := h.do(t, rawRequest{method: http.MethodPost, uri: NativePayPath, body: []byte(`{}`), mchid: "1900009999"})
	if e := decodeErr(t, raw); resp.StatusCode != 401 || e.Code != "SIGN_ERROR" || e.Detail["field"] != "mchid" {
		t.Errorf("unknown merchant: %d %s", resp.StatusCode, raw)
	}

	// Merchant b's contract is b's: the signing route finds b by its token.
	db, da := eduDay{t: t, h: h, c: b}, eduDay{t: t, h: h, c: a}
	status, contract := db.sign(db.presign("B-CONTRACT"), "oUpF8uMuAJOM2pxb1Q")
	if status != 200 || contract["mchid"] != b.MchID {
		t.Fatalf("b signs: %d %v", status, contract)
	}
	uri := "/v3/eduschoolpay/contracts/" + contract["contract_id"].(string)
	if status, got := db.call(http.MethodGet, uri, nil); status != 200 {
		t.Errorf("b queries its contract: %d %v", status, got)
	}
	status, out := da.call(http.MethodGet, uri, nil)
	wantCode(t, "a queries b's contract", status, out, 404, "NOT_FOUND")
}

func TestLoadCredentialSets(t *testing.T) {
	dir := t.TempDir()
	if sets, err := LoadCredentialSets(dir); err != nil || len(sets) != 0 {
		t.Errorf("empty directory: %d sets, %v", len(sets), err)
	}
	for _, sub := range []string{"one", "two"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(credsDir)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadCredentialSets(dir); err == nil || !strings.Contains(err.Error(), "both sets of merchant "+creds.MchID) {
		t.Errorf("two sets of one merchant: %v", err)
	}
	if _, err := NewMerchants(); err == nil {
		t.Error("NewMerchants with none")
	}
	s, err := New(creds.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMerchants(s, s); err == nil {
		t.Error("NewMerchants with one merchant twice")
	}
}

// TestMerchantsClientRoute: the simulated WeChat client, which carries no
// Authorization, checks an invocation against the merchant that issued its
// prepay_id: signed with that merchant's key it opens, with another's not.
func TestMerchantsClientRoute(t *testing.T) {
	h, a, b := twoMerchants(t)
	db := eduDay{t: t, h: h, c: b}
	status, out := db.call(http.MethodPost, JSAPIPrepayPath, map[string]any{
		"appid": "wxd678efh567hg6787", "mchid": b.MchID, "description": "d", "out_trade_no": "B1",
		"notify_url": "https://example.com/n", "amount": map[string]any{"total": 1}, "payer": map[string]any{"openid": "o"}})
	if status != 200 {
		t.Fatalf("b's prepay: %d %v", status, out)
	}
	id := out["prepay_id"].(string)
	invocation := func(c *Credentials) map[string]any {
		saved := creds
		creds = c // sdkSign signs with the package's set
		defer func() { creds = saved }()
		return jsapiObject(t, "wxd678efh567hg6787", id, time.Now())
	}
	resp, body, x := h.pay(t, invocation(b))
	wantPaid(t, resp, body, x, id)
	resp, body, x = h.pay(t, invocation(a))
	wantRefused(t, resp, body, x, PaymentSignInvalid, "paySign")
}

// TestMerchantsClientForms: a front-end form goes to the merchant it names
// (send_coupon_merchant, or mch_id of a payscore detail) and is checked
// with that merchant's APIv2 key, not the first merchant's.
func TestMerchantsClientForms(t *testing.T) {
	h, a, b := twoMerchants(t)
	sign := func(c *Credentials, message string) string {
		mac := hmac.New(sha256.New, []byte(c.APIv2Key))
		mac.Write([]byte(message + "&key=" + c.APIv2Key))
		return fmt.Sprintf("%X", mac.Sum(nil))
	}
	coupon := func(c *Credentials, signer *Credentials) string {
		s := sign(signer, "out_request_no0=R0&send_coupon_merchant="+c.MchID+"&stock_id0=11")
		return `{"send_coupon_params":[{"stock_id":"11","out_request_no":"R0"}],"send_coupon_merchant":"` + c.MchID + `","sign":"` + s + `"}`
	}
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		verdict string
	}{
		{"a's form, a's key", coupon(a, a), 200, PaymentOK},
		{"b's form, b's key", coupon(b, b), 200, PaymentOK},
		{"b's form, a's key", coupon(b, a), 400, PaymentSignInvalid},
	} {
		status, verdict, _ := postForm(t, h, ClientSendCouponPath, tc.body)
		if status != tc.status || verdict != tc.verdict {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, verdict, tc.status, tc.verdict)
		}
	}
	q := url.Values{"mch_id": {b.MchID}, "service_id": {"500001"}, "out_order_no": {"O1"}, "timestamp": {strconv.FormatInt(time.Now().Unix(), 10)},
		"nonce_str": {"n1"}, "sign_type": {"HMAC-SHA256"}}
	q.Set("sign", sign(b, "mch_id="+b.MchID+"&nonce_str=n1&out_order_no=O1&service_id=500001&sign_type=HMAC-SHA256&timestamp="+q.Get("timestamp")))
	if status, verdict, _ := postForm(t, h, ClientPayscoreDetailPath, `{"businessType":"wxpayScoreDetail","query":"`+q.Encode()+`"}`); status != 200 || verdict != PaymentOK {
		t.Errorf("b's payscore detail: %d %s", status, verdict)
	}
}

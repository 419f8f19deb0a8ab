package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Shared across the package's tests: one generated set (keygen is the
// slow part) and one unrelated key.
var (
	creds    *Credentials
	credsDir string
	otherKey *rsa.PrivateKey
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sandbox-creds-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	credsDir = dir
	if creds, err = GenerateCredentials(dir, "1900000109"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if otherKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// harness is a sandbox behind an httptest server, recording exchanges.
type harness struct {
	srv *Server
	ts  *httptest.Server
	mu  sync.Mutex
	xs  []Exchange
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{}
	cfg := creds.ServerConfig()
	cfg.Observer = func(x Exchange) {
		h.mu.Lock()
		h.xs = append(h.xs, x)
		h.mu.Unlock()
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	h.ts = httptest.NewServer(srv)
	t.Cleanup(h.ts.Close)
	return h
}

func (h *harness) last(t *testing.T) Exchange {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.xs) == 0 {
		t.Fatal("no exchange observed")
	}
	return h.xs[len(h.xs)-1]
}

// sdkClient is the official SDK client in public-key mode, pointed at the
// harness through its HTTP client (URLs passed to Request are absolute).
func (h *harness) sdkClient(t *testing.T) *core.Client {
	t.Helper()
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(creds.MchID, creds.MerchantSerial, creds.MerchantPrivateKey, creds.PublicKeyID, creds.PublicKey),
		option.WithHTTPClient(h.ts.Client()),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sdkValidator is the SDK's response validator knowing both WeChat Pay keys.
func sdkValidator() *validators.WechatPayResponseValidator {
	getter := core.NewCertificateMapWithList([]*x509.Certificate{creds.PlatformCertificate})
	return validators.NewWechatPayResponseValidator(
		verifiers.NewSHA256WithRSACombinedVerifier(getter, creds.PublicKeyID, *creds.PublicKey))
}

// rawRequest describes a request signed by hand with the SDK's signer, for
// the cases the SDK client cannot produce (stale timestamp, reused nonce...).
type rawRequest struct {
	method, uri string
	body        []byte
	header      map[string]string // extra headers; "" value deletes
	mchid       string            // default creds.MchID
	serial      string            // default creds.MerchantSerial
	key         *rsa.PrivateKey   // default creds.MerchantPrivateKey
	timestamp   int64             // default now
	nonce       string            // default a fresh SDK nonce
	signBody    []byte            // what is signed, default body
	noAuth      bool
}

func (h *harness) do(t *testing.T, rr rawRequest) (*http.Response, []byte) {
	t.Helper()
	if rr.mchid == "" {
		rr.mchid = creds.MchID
	}
	if rr.serial == "" {
		rr.serial = creds.MerchantSerial
	}
	if rr.key == nil {
		rr.key = creds.MerchantPrivateKey
	}
	if rr.timestamp == 0 {
		rr.timestamp = time.Now().Unix()
	}
	if rr.nonce == "" {
		n, err := utils.GenerateNonce()
		if err != nil {
			t.Fatal(err)
		}
		rr.nonce = n
	}
	if rr.signBody == nil {
		rr.signBody = rr.body
	}
	req, err := http.NewRequest(rr.method, h.ts.URL+rr.uri, bytes.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sandbox-test")
	if len(rr.body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if !rr.noAuth {
		signer := &signers.SHA256WithRSASigner{MchID: rr.mchid, CertificateSerialNo: rr.serial, PrivateKey: rr.key}
		msg := fmt.Sprintf(consts.SignatureMessageFormat, rr.method, rr.uri, rr.timestamp, rr.nonce, rr.signBody)
		res, err := signer.Sign(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", fmt.Sprintf(consts.HeaderAuthorizationFormat,
			"WECHATPAY2-"+signer.Algorithm(), res.MchID, rr.nonce, rr.timestamp, res.CertificateSerialNo, res.Signature))
	}
	for k, v := range rr.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if _, ok := rr.header["User-Agent"]; ok && rr.header["User-Agent"] == "" {
		req.Header["User-Agent"] = []string{""} // stop net/http adding its own
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, body
}

// validate runs the SDK validator on a response whose body was read.
func validate(resp *http.Response, body []byte) error {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return sdkValidator().Validate(context.Background(), resp)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encPub(t *testing.T, s string) string {
	t.Helper()
	c, err := utils.EncryptOAEPWithPublicKey(s, creds.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encPlatform(t *testing.T, s string) string {
	t.Helper()
	c, err := utils.EncryptOAEPWithCertificate(s, creds.PlatformCertificate)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// presignBody is a complete presign request with the sensitive fields
// encrypted by enc.
func presignBody(t *testing.T, enc func(*testing.T, string) string) map[string]any {
	return map[string]any{
		"appid":                      "wx8888888888888888",
		"openid":                     "oUpF8uMuAJOM2pxb1Q",
		"plan_id":                    "101164396123311331",
		"user_id":                    "20200330tony",
		"school_id":                  "18260256813396",
		"out_contract_code":          "20190806125346",
		"contract_mode":              "LIMIT_BANK_CARD",
		"downgrade_default_contract": true,
		"identity": map[string]any{
			"real_name":       enc(t, "张三"),
			"credential_type": enc(t, "IDENTITY_CARD"),
			"id_card_number":  enc(t, "110101199003070000"),
		},
		"bank_card": map[string]any{
			"bank_card_no": enc(t, "6222000000000000000"),
			"valid_thru":   "08/21",
			"phone":        enc(t, "13800000000"),
			"bank_type":    "CMC",
		},
	}
}

// apiErr decodes a WeChat Pay error body.
type apiErr struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Detail  map[string]any `json:"detail"`
}

func decodeErr(t *testing.T, body []byte) apiErr {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

func nopBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

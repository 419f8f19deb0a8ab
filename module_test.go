package wechatpay

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// testHostAllowed lets httptest.NewRequest's Host, example.com, through
// the Host check in the tests of other checks; extra JSON may set
// allow_hosts again (the last value wins). TestServeHTTPChecksHost tests
// the check itself.
const testHostAllowed = `"allow_hosts":["example.com"]`

// provisionedHandler returns a handler provisioned from its JSON form, with
// every log entry (DEBUG and up) captured.
func provisionedHandler(t testing.TB, extraJSON string) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	c := testkit.Creds()
	dir := t.TempDir()
	cfg := `{"mchid":"` + c.MchID + `","serial_no":"` + c.SerialNo + `",
		"private_key":"` + testkit.WriteFile(t, dir, "k.pem", testkit.PKCS8(c.MerchantKey)) + `",
		"public_key_id":"` + c.PublicKeyID + `",
		"public_key":"` + testkit.WriteFile(t, dir, "p.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)) + `",
		` + testHostAllowed + extraJSON + `}`
	h := new(Handler)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := provisionFrom(t, ctx, h, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	return h, logs
}

// serve runs one request through ServeHTTP with a next handler that records
// the request it is given (as reverse_proxy would forward it) and answers
// with answer (nil: nothing).
func serve(t *testing.T, h *Handler, r *http.Request, answer http.HandlerFunc) (*httptest.ResponseRecorder, *http.Request, []byte) {
	t.Helper()
	var forwarded *http.Request
	var body []byte
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		forwarded = r
		body, _ = io.ReadAll(r.Body)
		if answer != nil {
			answer(w, r)
		}
		return nil
	})
	return runHandler(t, h, r, next), forwarded, body
}

func TestServeHTTPForwardsSignedEncrypted(t *testing.T) {
	h, _ := provisionedHandler(t, `,"verify_responses":false`)
	r := httptest.NewRequest("POST", "/v3/eduschoolpay/contracts/presign", strings.NewReader(testkit.PresignBody))
	r.Header.Set("Authorization", "Basic c2VjcmV0")
	r.Header.Set("Wechatpay-Serial", "FROM-CLIENT")
	r.Header.Set("Accept-Encoding", "br")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl's and PHP's default
	_, fw, body := serve(t, h, r, nil)
	if fw == nil {
		t.Fatal("next handler not called")
	}
	testkit.CheckEncrypted(t, []byte(testkit.PresignBody), body, testkit.PresignFields, testkit.PresignPlain)
	if fw.ContentLength != int64(len(body)) || fw.Header.Get("Content-Length") != itoa(len(body)) {
		t.Errorf("ContentLength %d / header %q for a %d-byte body", fw.ContentLength, fw.Header.Get("Content-Length"), len(body))
	}
	if m := testkit.AuthorizationRE.FindStringSubmatch(fw.Header.Get("Authorization")); m == nil {
		t.Errorf("Authorization %q not WeChat Pay's", fw.Header.Get("Authorization"))
	}
	for k, want := range map[string]string{
		"Wechatpay-Serial": testkit.Creds().PublicKeyID, "Accept": "application/json",
		"Content-Type": "application/json", "Accept-Encoding": "",
	} {
		if got := fw.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestServeHTTPRefusalDoesNotCallNext(t *testing.T) {
	h, _ := provisionedHandler(t, "")
	r := httptest.NewRequest("POST", "/v3/eduschoolpay/contracts/presign", strings.NewReader(`{"identity":{"real_name":1}}`))
	w, fw, _ := serve(t, h, r, nil)
	if fw != nil {
		t.Fatal("a refused request reached the next handler")
	}
	if w.Code != 400 || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var e struct{ Code, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != "PARAM_ERROR" || !strings.Contains(e.Message, "identity.real_name") {
		t.Errorf("body %s", w.Body.Bytes())
	}
}

func TestServeHTTPUnverifiedAnswerNotWritten(t *testing.T) {
	h, _ := provisionedHandler(t, "")
	r := httptest.NewRequest("GET", "/v3/certificates", nil)
	w, _, _ := serve(t, h, r, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(200)
		w.Write([]byte(`{"forged":"SUCCESS"}`))
	})
	if w.Code != 502 || strings.Contains(w.Body.String(), "forged") || w.Header().Get("X-Upstream") != "" {
		t.Errorf("status %d, header %v, body %s", w.Code, w.Header(), w.Body.String())
	}
}

// TestLogsHoldNoSecrets pushes the reference request and failing requests
// through at DEBUG level and looks for every secret in every log field.
func TestLogsHoldNoSecrets(t *testing.T) {
	h, logs := provisionedHandler(t, "")
	c := testkit.Creds()
	sign := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }
	var auths []string
	for _, tc := range []struct{ method, uri, body string }{
		{"POST", "/v3/eduschoolpay/contracts/presign", testkit.PresignBody},
		{"POST", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":"张三","real_name":"110101199003071234"}}`},
		{"POST", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":"` + strings.Repeat("6222021234567890123", 20) + `"}}`},
		{"POST", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":"13800138000"`},
		{"POST", "/v3/eduschoolpay/contracts/presign", `{"identity":"110101199003071234"}`},
		{"GET", "/v3/x?card_no=6222021234567890123", ""},
	} {
		r := httptest.NewRequest(tc.method, tc.uri, strings.NewReader(tc.body))
		_, fw, _ := serve(t, h, r, sign)
		if fw != nil {
			auths = append(auths, fw.Header.Get("Authorization"))
		}
	}
	if len(auths) == 0 {
		t.Fatal("nothing was forwarded")
	}
	secrets := []string{"张三", "110101199003071234", "6222021234567890123", "13800138000", "IDENTITY_CARD",
		base64.StdEncoding.EncodeToString(c.MerchantKey.D.Bytes())[:40], "PRIVATE KEY"}
	for _, a := range auths {
		secrets = append(secrets, a, testkit.AuthorizationRE.FindStringSubmatch(a)[3])
	}
	if logs.Len() == 0 {
		t.Fatal("no log lines captured")
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		text := e.Message + " " + string(line)
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("log line %q holds a secret (%.12s...)", text, s)
			}
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestKeyFilePermissionWarning(t *testing.T) {
	dir := t.TempDir()
	c := testkit.Creds()
	loose := testkit.WriteFile(t, dir, "loose.pem", testkit.PKCS8(c.MerchantKey))
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	tight := testkit.WriteFile(t, dir, "tight.pem", testkit.PKCS8(c.MerchantKey))
	for _, tc := range []struct {
		raw, resolved string
		warn          bool
	}{
		{loose, loose, true},
		{"{file." + loose + "}", testkit.PKCS8(c.MerchantKey), true},
		{tight, tight, false},
		{"{env.KEY}", testkit.PKCS8(c.MerchantKey), false},
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		warnIfExposed(zap.New(core), "private_key", tc.raw, tc.resolved)
		if got := logs.FilterMessageSnippet("readable by group or others").Len() == 1; got != tc.warn {
			t.Errorf("%s: warned=%v, want %v", tc.raw, got, tc.warn)
		}
		for _, e := range logs.All() {
			if strings.Contains(e.Message+fmt.Sprint(e.ContextMap()), "PRIVATE KEY") {
				t.Error("warning holds key material")
			}
		}
	}
}

// TestAPIv3KeyIsNeverAFilePath: the APIv3 key's value is not looked up as
// a file (so never logged as one), even when a file of that name exists;
// only a {file./path} placeholder names a file.
func TestAPIv3KeyIsNeverAFilePath(t *testing.T) {
	const key = "0123456789abcdef0123456789ABCDEF"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, key), []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("TEST_APIV3_KEY", key)
	for raw, warn := range map[string]bool{
		"{env.TEST_APIV3_KEY}":                   false,
		"{file." + filepath.Join(dir, key) + "}": true,
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		if _, err := (keyOptions{apiv3Key: raw}).loadAPIv3Key(zap.New(core)); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := logs.FilterMessageSnippet("readable by group or others").Len() == 1; got != warn {
			t.Errorf("%s: warned=%v, want %v", raw, got, warn)
		}
		for _, e := range logs.All() {
			if strings.Contains(e.Message+fmt.Sprint(e.ContextMap()), key) && !strings.HasPrefix(raw, "{file.") {
				t.Errorf("%s: a log line holds the key: %s %v", raw, e.Message, e.ContextMap())
			}
		}
	}
}

func TestAllowPaths(t *testing.T) {
	h, _ := provisionedHandler(t, `,"allow_paths":["/hk/v3/"],"verify_responses":false`)
	for path, forwarded := range map[string]bool{
		"/hk/v3/transactions/id/1":  true,
		"/v3/pay/transactions/id/1": true,
		"/hk/v2/x":                  false,
		"/hk/v3/../../v2/x":         false,
		"/":                         false,
	} {
		_, fw, _ := serve(t, h, httptest.NewRequest("GET", path, nil), nil)
		if (fw != nil) != forwarded {
			t.Errorf("%s: forwarded=%v, want %v", path, fw != nil, forwarded)
		}
	}
}

// TestEmptyPlaceholderNamed: Caddyfile.example run without its environment
// variables says which placeholder came out empty.
func TestEmptyPlaceholderNamed(t *testing.T) {
	h := &Handler{MchID: "{env.CADDY_WECHATPAY_TEST_UNSET}", SerialNo: "ABC", PrivateKey: "/nonexistent"}
	h.PublicKeyID, h.PublicKey = "PUB_KEY_ID_1", "/nonexistent"
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err := h.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "mchid is required, and {env.CADDY_WECHATPAY_TEST_UNSET} resolved to nothing") {
		t.Fatalf("error %v", err)
	}
}

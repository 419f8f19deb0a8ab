package wechatpay

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// standInApp is the app behind a wechatpay_notify route: it records each
// callback it receives, checks that its Content-Length is right, and
// answers with a settable status.
type standInApp struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	received []appCall
	status   int
}

func newStandInApp(t *testing.T) *standInApp {
	a := &standInApp{t: t, status: 200}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("app: reading the body: %v", err)
		}
		if r.ContentLength != int64(len(body)) || r.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("app: Content-Length %d / %q for %d bytes", r.ContentLength, r.Header.Get("Content-Length"), len(body))
		}
		a.mu.Lock()
		a.received = append(a.received, appCall{header: r.Header.Clone(), body: body, length: r.ContentLength,
			uri: r.RequestURI, trailer: r.Trailer.Clone(), chunked: slices.Contains(r.TransferEncoding, "chunked")})
		status := a.status
		a.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"code":"SUCCESS","message":"成功"}`))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *standInApp) calls() []appCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appCall(nil), a.received...)
}

func (a *standInApp) set(status int) {
	a.mu.Lock()
	a.status = status
	a.received = nil
	a.mu.Unlock()
}

// startNotifyProxy runs Caddy with two notify routes: /wechatpay/notify in
// front of app (with a header of the operator's, X-App-Secret, set by
// reverse_proxy), and /wechatpay/notify-down in front of a port nobody
// listens on. The dedup records go to a fresh storage directory, returned.
func startNotifyProxy(t *testing.T, app *standInApp) (*caddytest.Tester, string) {
	t.Helper()
	c := testCredentials(t)
	dir := t.TempDir()
	pub := writeFile(t, dir, "pub_key.pem", pemPublic(t, &c.wechatpayKey.PublicKey))
	writeFile(t, dir, "apiv3_key.txt", testAPIv3Key+"\n")
	storage := filepath.Join(dir, "storage")
	t.Setenv("TEST_NOTIFY_APIV3_KEY", testAPIv3Key)
	block := func(key string) string {
		return `wechatpay_notify {
			apiv3_key      ` + key + `
			public_key_id  ` + c.publicKeyID + `
			public_key     ` + pub + `
		}`
	}
	cfg := "{\n" + testGlobals("1ns", "storage file_system "+storage) + `}
` + proxyURL + ` {
	bind 127.0.0.1
	handle /wechatpay/notify {
		` + block("{env.TEST_NOTIFY_APIV3_KEY}") + `
		reverse_proxy ` + strings.TrimPrefix(app.URL, "http://") + ` {
			header_up X-App-Secret app-secret
		}
	}
	handle /wechatpay/notify-down {
		` + block("{file."+filepath.Join(dir, "apiv3_key.txt")+"}") + `
		reverse_proxy 127.0.0.1:` + strconv.Itoa(freePort()) + `
	}
}
`
	tester := newTester(t)
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester, storage
}

func sendCallback(t *testing.T, tester *caddytest.Tester, path string, cb builtCallback) (*http.Response, []byte) {
	t.Helper()
	var hdr []string
	for k := range cb.header {
		hdr = append(hdr, k, cb.header.Get(k))
	}
	return send(t, tester, "POST", path, cb.body, hdr...)
}

// failBody checks WeChat Pay's answer is {"code":"FAIL","message":...}.
func failBody(t *testing.T, out []byte, mention string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(out, &e); err != nil || e.Code != "FAIL" || !strings.Contains(e.Message, mention) {
		t.Errorf("answer %s, want FAIL mentioning %q", out, mention)
	}
}

func TestIntegrationNotify(t *testing.T) {
	app := newStandInApp(t)
	tester, storage := startNotifyProxy(t, app)
	c := testCredentials(t)

	t.Run("valid", func(t *testing.T) {
		app.set(200)
		cb := buildCallback(t, callbackSpec{})
		resp, out := sendCallback(t, tester, "/wechatpay/notify", cb)
		if resp.StatusCode != 204 || len(out) != 0 {
			t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
		}
		calls := app.calls()
		if len(calls) != 1 {
			t.Fatalf("app got %d calls", len(calls))
		}
		var env struct {
			ID           string          `json:"id"`
			EventType    string          `json:"event_type"`
			Summary      string          `json:"summary"`
			CreateTime   string          `json:"create_time"`
			ResourceType string          `json:"resource_type"`
			Resource     json.RawMessage `json:"resource"`
		}
		got := calls[0]
		dec := json.NewDecoder(bytes.NewReader(got.body))
		if err := dec.Decode(&env); err != nil {
			t.Fatal(err)
		}
		if env.ID != cb.id || env.EventType != "TRANSACTION.SUCCESS" || env.Summary != "支付成功" ||
			env.CreateTime == "" || env.ResourceType != "encrypt-resource" || string(env.Resource) != testTransaction {
			t.Errorf("app got %s", got.body)
		}
		if got.header.Get("Content-Type") != "application/json" || got.header.Get(NotificationIDHeader) != cb.id ||
			got.header.Get(EventTypeHeader) != "TRANSACTION.SUCCESS" || got.header.Get("Wechatpay-Signature") != "" {
			t.Errorf("app headers %v", got.header)
		}
		if _, err := os.Stat(filepath.Join(storage, "wechatpay_notify", c.publicKeyID, cb.id)); err != nil {
			t.Errorf("no dedup record in the storage: %v", err)
		}

		// Acknowledged: a resend is answered 204 without reaching the app.
		app.set(200)
		resp, _ = sendCallback(t, tester, "/wechatpay/notify", buildCallback(t, callbackSpec{id: cb.id}))
		if resp.StatusCode != 204 || len(app.calls()) != 0 {
			t.Errorf("resend: %d, app got %d calls", resp.StatusCode, len(app.calls()))
		}
	})

	t.Run("app fails, then the resend is forwarded", func(t *testing.T) {
		app.set(500)
		cb := buildCallback(t, callbackSpec{})
		resp, out := sendCallback(t, tester, "/wechatpay/notify", cb)
		if resp.StatusCode != 500 {
			t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
		}
		failBody(t, out, "answered 500")
		if len(app.calls()) != 1 {
			t.Fatalf("app got %d calls", len(app.calls()))
		}
		app.set(200)
		resp, _ = sendCallback(t, tester, "/wechatpay/notify", buildCallback(t, callbackSpec{id: cb.id}))
		if resp.StatusCode != 204 || len(app.calls()) != 1 {
			t.Errorf("resend: %d, app got %d calls", resp.StatusCode, len(app.calls()))
		}
	})

	t.Run("app unreachable", func(t *testing.T) {
		resp, out := sendCallback(t, tester, "/wechatpay/notify-down", buildCallback(t, callbackSpec{}))
		if resp.StatusCode != 500 {
			t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
		}
		failBody(t, out, "could not be reached")
	})

	t.Run("refusals", func(t *testing.T) {
		big := buildCallback(t, callbackSpec{rawBody: `{"id":"EV-BIG","pad":"` + strings.Repeat("x", 70<<10) + `"}`})
		for _, tc := range []struct {
			name    string
			cb      builtCallback
			status  int
			mention string
		}{
			{"missing headers", buildCallback(t, callbackSpec{omitHeaders: true}), 401, CodeSignatureMissing},
			{"wrong signature type", buildCallback(t, callbackSpec{sigType: "WECHATPAY2-SM2-WITH-SM3"}), 401, "SIGNATURE_TYPE_UNSUPPORTED"},
			{"bad signature", buildCallback(t, callbackSpec{signKey: c.platformKey}), 401, CodeSignatureInvalid},
			{"altered body", buildCallback(t, callbackSpec{tamper: func(b []byte) []byte {
				return bytes.Replace(b, []byte("支付成功"), []byte("支付失败"), 1)
			}}), 401, CodeSignatureInvalid},
			{"unknown serial", buildCallback(t, callbackSpec{serial: "PUB_KEY_ID_0000000000000000000000000000"}), 401, CodeSerialUnknown},
			{"stale", buildCallback(t, callbackSpec{timeShift: -5*time.Minute - 2*time.Second}), 401, CodeTimestampExpired},
			{"probe", buildCallback(t, callbackSpec{signature: "WECHATPAY/SIGNTEST/" + randomAlnum(40)}), 401, CodeSignatureProbe},
			{"wrong APIv3 key", buildCallback(t, callbackSpec{apiv3Key: "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"}), 400, CodeDecryptFailed},
			{"tampered ciphertext", buildCallback(t, callbackSpec{nonce: "abcdefghijkl",
				ciphertext: sealResource(t, testAPIv3Key, "abcdefghijkm", "transaction", testTransaction)}), 400, CodeDecryptFailed},
			{"malformed JSON", buildCallback(t, callbackSpec{rawBody: `{"id":"EV-1","resource":{`}), 400, CodeNotificationMalformed},
			{"not an object", buildCallback(t, callbackSpec{plaintext: `["SUCCESS"]`}), 400, CodeDecryptFailed},
			{"over the body cap", big, 413, "max_body"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				app.set(200)
				resp, out := sendCallback(t, tester, "/wechatpay/notify", tc.cb)
				if resp.StatusCode != tc.status {
					t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
				}
				failBody(t, out, tc.mention)
				if n := len(app.calls()); n != 0 {
					t.Errorf("a refused callback reached the app (%d calls)", n)
				}
				if strings.Contains(string(out), "oUpF8uMuAJO") {
					t.Errorf("answer holds plaintext: %s", out)
				}
			})
		}
	})
}

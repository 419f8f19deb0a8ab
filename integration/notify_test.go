package integration

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

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/notification"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// appRequest is what the app stand-in received.
type appRequest struct {
	header  http.Header
	body    []byte
	length  int64
	uri     string
	trailer http.Header // read after the body
	chunked bool        // sent with Transfer-Encoding: chunked
}

// standInApp is the app behind a wechatpay_notify route: it records each
// callback it receives, checks that its Content-Length is right, and
// answers with a settable status.
type standInApp struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	received []appRequest
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
		a.received = append(a.received, appRequest{header: r.Header.Clone(), body: body, length: r.ContentLength,
			uri: r.RequestURI, trailer: r.Trailer.Clone(), chunked: slices.Contains(r.TransferEncoding, "chunked")})
		status := a.status
		a.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"code":"SUCCESS","message":"成功"}`))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *standInApp) calls() []appRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appRequest(nil), a.received...)
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
	c := testkit.Creds()
	dir := t.TempDir()
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.APIv3Key+"\n")
	storage := filepath.Join(dir, "storage")
	t.Setenv("TEST_NOTIFY_APIV3_KEY", testkit.APIv3Key)
	block := func(key string) string {
		return `wechatpay_notify {
			apiv3_key      ` + key + `
			public_key_id  ` + c.PublicKeyID + `
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
		reverse_proxy 127.0.0.1:` + strconv.Itoa(testkit.FreePort()) + `
	}
}
`
	tester := newTester(t)
	loadCaddyfile(t, tester, cfg)
	if t.Failed() {
		t.FailNow()
	}
	return tester, storage
}

func sendCallback(t *testing.T, tester *caddytest.Tester, path string, cb testkit.Callback) (*http.Response, []byte) {
	t.Helper()
	var hdr []string
	for k := range cb.Header {
		hdr = append(hdr, k, cb.Header.Get(k))
	}
	return send(t, tester, "POST", path, cb.Body, hdr...)
}

// failBody checks WeChat Pay's response is {"code":"FAIL","message":...}.
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
	c := testkit.Creds()

	t.Run("valid", func(t *testing.T) {
		app.set(200)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
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
		if env.ID != cb.ID || env.EventType != "TRANSACTION.SUCCESS" || env.Summary != "支付成功" ||
			env.CreateTime == "" || env.ResourceType != "encrypt-resource" || string(env.Resource) != testkit.Transaction {
			t.Errorf("app got %s", got.body)
		}
		if got.header.Get("Content-Type") != "application/json" || got.header.Get(notificationIDHeader) != cb.ID ||
			got.header.Get(eventTypeHeader) != "TRANSACTION.SUCCESS" || got.header.Get("Wechatpay-Signature") != "" {
			t.Errorf("app headers %v", got.header)
		}
		if _, err := os.Stat(filepath.Join(storage, "wechatpay_notify", c.PublicKeyID, cb.ID)); err != nil {
			t.Errorf("no dedup record in the storage: %v", err)
		}

		// Acknowledged: a resend is answered 204 without reaching the app.
		app.set(200)
		resp, _ = sendCallback(t, tester, "/wechatpay/notify", testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID}))
		if resp.StatusCode != 204 || len(app.calls()) != 0 {
			t.Errorf("resend: %d, app got %d calls", resp.StatusCode, len(app.calls()))
		}
	})

	t.Run("app fails, then the resend is forwarded", func(t *testing.T) {
		app.set(500)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
		resp, out := sendCallback(t, tester, "/wechatpay/notify", cb)
		if resp.StatusCode != 500 {
			t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
		}
		failBody(t, out, "answered 500")
		if len(app.calls()) != 1 {
			t.Fatalf("app got %d calls", len(app.calls()))
		}
		app.set(200)
		resp, _ = sendCallback(t, tester, "/wechatpay/notify", testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID}))
		if resp.StatusCode != 204 || len(app.calls()) != 1 {
			t.Errorf("resend: %d, app got %d calls", resp.StatusCode, len(app.calls()))
		}
	})

	t.Run("app unreachable", func(t *testing.T) {
		resp, out := sendCallback(t, tester, "/wechatpay/notify-down", testkit.BuildCallback(t, testkit.CallbackSpec{}))
		if resp.StatusCode != 500 {
			t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
		}
		failBody(t, out, "could not be reached")
	})

	t.Run("refusals", func(t *testing.T) {
		big := testkit.BuildCallback(t, testkit.CallbackSpec{RawBody: `{"id":"EV-BIG","pad":"` + strings.Repeat("x", 70<<10) + `"}`})
		for _, tc := range []struct {
			name    string
			cb      testkit.Callback
			status  int
			mention string
		}{
			{"missing headers", testkit.BuildCallback(t, testkit.CallbackSpec{OmitHeaders: true}), 401, apiv3.CodeSignatureMissing},
			{"wrong signature type", testkit.BuildCallback(t, testkit.CallbackSpec{SigType: "WECHATPAY2-SM2-WITH-SM3"}), 401, "SIGNATURE_TYPE_UNSUPPORTED"},
			{"bad signature", testkit.BuildCallback(t, testkit.CallbackSpec{SignKey: c.PlatformKey}), 401, apiv3.CodeSignatureInvalid},
			{"altered body", testkit.BuildCallback(t, testkit.CallbackSpec{Tamper: func(b []byte) []byte {
				return bytes.Replace(b, []byte("支付成功"), []byte("支付失败"), 1)
			}}), 401, apiv3.CodeSignatureInvalid},
			{"unknown serial", testkit.BuildCallback(t, testkit.CallbackSpec{Serial: "PUB_KEY_ID_0000000000000000000000000000"}), 401, apiv3.CodeSerialUnknown},
			{"stale", testkit.BuildCallback(t, testkit.CallbackSpec{TimeShift: -5*time.Minute - 2*time.Second}), 401, apiv3.CodeTimestampExpired},
			{"probe", testkit.BuildCallback(t, testkit.CallbackSpec{Signature: "WECHATPAY/SIGNTEST/" + testkit.RandomAlnum(40)}), 401, apiv3.CodeSignatureProbe},
			{"wrong APIv3 key", testkit.BuildCallback(t, testkit.CallbackSpec{APIv3Key: "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"}), 400, notification.CodeDecryptFailed},
			{"tampered ciphertext", testkit.BuildCallback(t, testkit.CallbackSpec{Nonce: "abcdefghijkl",
				Ciphertext: testkit.SealResource(t, testkit.APIv3Key, "abcdefghijkm", "transaction", testkit.Transaction)}), 400, notification.CodeDecryptFailed},
			{"malformed JSON", testkit.BuildCallback(t, testkit.CallbackSpec{RawBody: `{"id":"EV-1","resource":{`}), 400, notification.CodeNotificationMalformed},
			{"not an object", testkit.BuildCallback(t, testkit.CallbackSpec{Plaintext: `["SUCCESS"]`}), 400, notification.CodeDecryptFailed},
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

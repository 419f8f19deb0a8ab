package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/dedup"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/notification"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// provisionNotify provisions a wechatpay_notify handler from JSON; extra
// adds fields. The test APIv3 key comes from an environment placeholder.
func provisionNotify(t *testing.T, extraJSON string) (*NotifyHandler, error) {
	t.Helper()
	c := testkit.Creds()
	t.Setenv("TEST_WECHATPAY_APIV3_KEY", testkit.APIv3Key)
	pub := testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	cfg := `{"apiv3_key":"{env.TEST_WECHATPAY_APIV3_KEY}","public_key_id":"` + c.PublicKeyID + `","public_key":"` + pub + `"` + extraJSON + `}`
	h := new(NotifyHandler)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return h, provisionFrom(t, ctx, h, []byte(cfg))
}

// notifyHandler returns a provisioned handler whose dedup records live in
// ms (nil: dedup off), with every log entry captured.
func notifyHandler(t *testing.T, ms *testkit.MemStorage) (*NotifyHandler, *observer.ObservedLogs) {
	t.Helper()
	h, err := provisionNotify(t, `,"dedup":false`)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if ms != nil {
		h.store = &dedup.Store{Storage: ms, Scope: testkit.Creds().PublicKeyID, Now: time.Now}
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	return h, logs
}

// appCall is what the next handler received: the callback as forwarded.
type appCall struct {
	header http.Header
	body   []byte
	length int64
}

// fakeApp is a next handler recording each forwarded callback and answering
// with status (0: writes nothing).
type fakeApp struct {
	mu     sync.Mutex
	calls  []appCall
	status int
	delay  time.Duration
	err    error
}

func (a *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.calls = append(a.calls, appCall{header: r.Header.Clone(), body: body, length: r.ContentLength})
	status, delay, err := a.status, a.delay, a.err
	a.mu.Unlock()
	time.Sleep(delay)
	if err != nil {
		return err
	}
	if status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"code":"SUCCESS"}`))
	}
	return nil
}

func (a *fakeApp) received() []appCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appCall(nil), a.calls...)
}

func deliver(t *testing.T, h *NotifyHandler, cb testkit.Callback, next caddyhttp.Handler) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/wechatpay/notify", bytes.NewReader(cb.Body))
	for k, v := range cb.Header {
		r.Header[k] = v
	}
	return runHandler(t, h, r, next)
}

// assertLogsClean fails if a log entry holds the plaintext or the key.
func assertLogsClean(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, secret := range []string{testkit.APIv3Key, "oUpF8uMuAJO", "1217752501201407033233368018", "自定义数据"} {
			if strings.Contains(line, secret) {
				t.Errorf("log %q holds %q", line, secret)
			}
		}
	}
}

func TestNotifyForwardsPlaintext(t *testing.T) {
	h, logs := notifyHandler(t, testkit.NewMemStorage())
	app := &fakeApp{status: 200}
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	w := deliver(t, h, cb, app)
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("WeChat Pay got %d %s", w.Code, w.Body)
	}
	calls := app.received()
	if len(calls) != 1 {
		t.Fatalf("app got %d calls", len(calls))
	}
	got := calls[0]
	var env map[string]json.RawMessage
	if err := json.Unmarshal(got.body, &env); err != nil {
		t.Fatal(err)
	}
	if string(env["resource"]) != testkit.Transaction || string(env["id"]) != strconv.Quote(cb.ID) ||
		string(env["event_type"]) != `"TRANSACTION.SUCCESS"` || string(env["summary"]) != `"支付成功"` {
		t.Errorf("app got %s", got.body)
	}
	if got.header.Get("Content-Length") != strconv.Itoa(len(got.body)) || got.length != int64(len(got.body)) {
		t.Errorf("Content-Length %q / %d for %d bytes", got.header.Get("Content-Length"), got.length, len(got.body))
	}
	if got.header.Get("Content-Type") != "application/json" || got.header.Get(notificationIDHeader) != cb.ID ||
		got.header.Get(eventTypeHeader) != "TRANSACTION.SUCCESS" || got.header.Get("Request-ID") == "" {
		t.Errorf("app headers %v", got.header)
	}
	for _, k := range signatureHeaders {
		if got.header.Get(k) != "" {
			t.Errorf("app got %s", k)
		}
	}
	if e := logs.FilterMessage("forwarded").All(); len(e) != 1 || e[0].ContextMap()["id"] != cb.ID {
		t.Errorf("log: %v", logs.All())
	}
	assertLogsClean(t, logs)

	// The same notification again: acknowledged, not forwarded.
	again := testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID})
	if w := deliver(t, h, again, app); w.Code != 204 {
		t.Errorf("resend got %d", w.Code)
	}
	if n := len(app.received()); n != 1 {
		t.Errorf("resend reached the app (%d calls)", n)
	}
	if len(logs.FilterMessage("duplicate acknowledged").All()) != 1 {
		t.Errorf("no duplicate log line")
	}
}

func TestNotifyAppFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		app     *fakeApp
		mention string
	}{
		{"500", &fakeApp{status: 500}, "answered 500"},
		{"404", &fakeApp{status: 404}, "answered 404"},
		{"302", &fakeApp{status: 302}, "answered 302"},
		{"unreachable", &fakeApp{err: caddyhttp.Error(502, errors.New("dial tcp: connection refused"))}, "could not be reached"},
		{"nothing answered", &fakeApp{}, "reverse_proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := testkit.NewMemStorage()
			h, logs := notifyHandler(t, ms)
			cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
			w := deliver(t, h, cb, tc.app)
			var e struct{ Code, Message string }
			if w.Code != 500 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != "FAIL" || !strings.Contains(e.Message, tc.mention) {
				t.Errorf("WeChat Pay got %d %s", w.Code, w.Body)
			}
			if ms.Stores() != 0 {
				t.Errorf("an unacknowledged notification was recorded")
			}
			// WeChat Pay retries: forwarded again.
			tc.app.status, tc.app.err = 200, nil
			if w := deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID}), tc.app); w.Code != 204 {
				t.Errorf("retry got %d", w.Code)
			}
			if n := len(tc.app.received()); n != 2 {
				t.Errorf("app got %d calls, want 2", n)
			}
			assertLogsClean(t, logs)
		})
	}
}

func TestNotifyAbortedAnswer(t *testing.T) {
	h, _ := notifyHandler(t, nil)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(200)
		panic(http.ErrAbortHandler)
	})
	if w := deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{}), next); w.Code != 500 {
		t.Errorf("got %d", w.Code)
	}
}

func TestNotifyStorageFailuresFailOpen(t *testing.T) {
	for _, op := range []string{"lock", "load", "store"} {
		t.Run(op, func(t *testing.T) {
			ms := testkit.NewMemStorage()
			ms.FailOn(op, errors.New("storage is down"))
			h, logs := notifyHandler(t, ms)
			app := &fakeApp{status: 200}
			if w := deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{}), app); w.Code != 204 {
				t.Errorf("got %d %s", w.Code, w.Body)
			}
			if len(app.received()) != 1 {
				t.Errorf("not forwarded")
			}
			if logs.FilterLevelExact(zapcore.WarnLevel).Len()+logs.FilterLevelExact(zapcore.ErrorLevel).Len() == 0 {
				t.Errorf("storage failure not logged")
			}
		})
	}
}

// TestNotifyConcurrentDuplicates: deliveries of one notification at once
// (each signed anew, as WeChat Pay resends) reach the app once; the others
// wait for the first and see its record.
func TestNotifyConcurrentDuplicates(t *testing.T) {
	h, _ := notifyHandler(t, testkit.NewMemStorage())
	app := &fakeApp{status: 200, delay: 100 * time.Millisecond}
	id := testkit.RandomID()
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 3 {
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{ID: id})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := deliver(t, h, cb, app); w.Code == 204 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 3 || len(app.received()) != 1 {
		t.Errorf("%d answered 204, app got %d calls", ok.Load(), len(app.received()))
	}
}

func TestNotifyDedupOff(t *testing.T) {
	h, _ := notifyHandler(t, nil)
	app := &fakeApp{status: 200}
	id := testkit.RandomID()
	deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{ID: id}), app)
	deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{ID: id}), app)
	if n := len(app.received()); n != 2 {
		t.Errorf("app got %d calls with dedup off", n)
	}
}

// TestNotifyReplayRefused: a callback played again with the very signature
// WeChat Pay sent (the same serial, timestamp and nonce) is refused before
// deduplication, and the app never sees it, with or without dedup.
func TestNotifyReplayRefused(t *testing.T) {
	for _, storage := range []*testkit.MemStorage{testkit.NewMemStorage(), nil} {
		var h *NotifyHandler
		if storage != nil {
			h, _ = notifyHandler(t, storage)
		} else {
			h, _ = notifyHandler(t, nil)
		}
		app := &fakeApp{status: 200}
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
		if w := deliver(t, h, cb, app); w.Code != 204 {
			t.Fatalf("first delivery: %d %s", w.Code, w.Body)
		}
		w := deliver(t, h, cb, app)
		if w.Code != 401 || !strings.Contains(w.Body.String(), apiv3.CodeSignatureReplayed) {
			t.Errorf("replay (dedup %v): %d %s", storage != nil, w.Code, w.Body)
		}
		if n := len(app.received()); n != 1 {
			t.Errorf("the app got %d calls, want 1", n)
		}
	}
}

func TestNotifyRefusalLog(t *testing.T) {
	h, logs := notifyHandler(t, nil)
	app := &fakeApp{status: 200}
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{APIv3Key: "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"})
	w := deliver(t, h, cb, app)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"code":"FAIL"`) || !strings.Contains(w.Body.String(), notification.CodeDecryptFailed) {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
	e := logs.FilterMessage("callback refused").All()
	if len(e) != 1 || e[0].ContextMap()["id"] != cb.ID || e[0].ContextMap()["request_id"] != "08F1CALLBACK-TEST-"+cb.ID ||
		e[0].ContextMap()["code"] != notification.CodeDecryptFailed {
		t.Errorf("refusal log %v", logs.All())
	}
	if len(app.received()) != 0 {
		t.Error("refused callback reached the app")
	}
	// GET is not a callback.
	r := httptest.NewRequest("GET", "/wechatpay/notify", nil)
	rec := httptest.NewRecorder()
	_ = h.ServeHTTP(rec, r, app)
	if rec.Code != 405 || len(app.received()) != 0 {
		t.Errorf("GET got %d", rec.Code)
	}
	assertLogsClean(t, logs)
}

func TestNotifyProvisionErrors(t *testing.T) {
	c := testkit.Creds()
	pub := testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	keys := `"public_key_id":"` + c.PublicKeyID + `","public_key":"` + pub + `"`
	for _, tc := range []struct{ name, json, mention string }{
		{"no apiv3_key", `{` + keys + `}`, "apiv3_key is required"},
		{"short apiv3_key", `{"apiv3_key":"Yx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0T",` + keys + `}`, "apiv3_key must be 32 bytes"},
		{"long apiv3_key", `{"apiv3_key":"Yx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0TsQQ",` + keys + `}`, "got 34 bytes"},
		{"unset env", `{"apiv3_key":"{env.NO_SUCH_WECHATPAY_VAR_X}",` + keys + `}`, "apiv3_key is required"},
		{"no keys", `{"apiv3_key":"` + testkit.APIv3Key + `"}`, "public_key"},
		{"wechatpay_serial", `{"apiv3_key":"` + testkit.APIv3Key + `","wechatpay_serial":"` + c.PublicKeyID + `",` + keys + `}`, "wechatpay_serial"},
		{"negative max_body", `{"apiv3_key":"` + testkit.APIv3Key + `","max_body":-1,` + keys + `}`, "max_body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := new(NotifyHandler)
			if err := json.Unmarshal([]byte(tc.json), h); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := h.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("Provision = %v, want mention of %q", err, tc.mention)
			}
			for _, k := range []string{"Yx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0T"} {
				if strings.Contains(err.Error(), k) {
					t.Errorf("error quotes the key: %v", err)
				}
			}
		})
	}
	// A literal key works, with a warning.
	h := new(NotifyHandler)
	_ = json.Unmarshal([]byte(`{"apiv3_key":"`+testkit.APIv3Key+`","dedup":false,`+keys+`}`), h)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if h.MaxBody != defaultNotifyMaxBody {
		t.Errorf("default max_body %d", h.MaxBody)
	}
}

func TestNotifyCaddyfile(t *testing.T) {
	out, err := adaptCaddyfile(t, `:9443 {
	handle /wechatpay/notify {
		wechatpay_notify {
			apiv3_key      {env.WECHATPAY_APIV3_KEY}
			public_key_id  PUB_KEY_ID_0114232134912410000000000000
			public_key     /etc/wechatpay/pub_key.pem
			platform_certificate /etc/wechatpay/cert.pem
			max_body 16KiB
			dedup off
		}
		reverse_proxy 127.0.0.1:8080
	}
}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiv3_key":"{env.WECHATPAY_APIV3_KEY}","dedup":false,"handler":"wechatpay_notify","max_body":16384,` +
		`"platform_certificate":["/etc/wechatpay/cert.pem"],"public_key":"/etc/wechatpay/pub_key.pem","public_key_id":"PUB_KEY_ID_0114232134912410000000000000"}`
	if !strings.Contains(string(out), want) {
		t.Errorf("adapted:\n%s\nwant to contain\n%s", out, want)
	}
	if strings.Index(string(out), `"wechatpay_notify"`) > strings.Index(string(out), `"reverse_proxy"`) {
		t.Errorf("wechatpay_notify is not ordered before reverse_proxy: %s", out)
	}

	for _, tc := range []struct{ name, block, mention string }{
		{"unknown option", "apiv3_key x\n\t\tfoo bar", "unrecognized wechatpay_notify option"},
		{"apiv3_key twice", "apiv3_key {env.A}\n\t\tapiv3_key {env.B}", "more than once"},
		{"apiv3_key no value", "apiv3_key", "wrong argument count"},
		{"wechatpay_serial", "wechatpay_serial PUB_KEY_ID_0114232134912410000000000000", "no meaning"},
		{"dedup value", "dedup maybe", "on or off"},
		{"max_body", "max_body lots", "max_body"},
		{"public_key twice", "public_key a\n\t\tpublic_key b", "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adaptCaddyfile(t, ":9443 {\n\twechatpay_notify {\n\t\t"+tc.block+"\n\t}\n\treverse_proxy 127.0.0.1:8080\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("err = %v, want %q", err, tc.mention)
			}
		})
	}
	if _, err := adaptCaddyfile(t, ":9443 {\n\twechatpay_notify arg\n}\n"); err == nil {
		t.Error("accepted an argument on the directive line")
	}
}

package wechatpay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestMerchantWithoutKeyWaits: a merchant whose platform certificates are
// downloaded has no WeChat Pay key between Provision and Start (nothing is
// downloaded before Start), nor after a Start whose download fails. Its
// handlers wait for Start while the request lasts, then answer 503; Start
// does not fail, but logs, as an error, that the merchant has no key and
// why; the keys report lists no WeChat Pay key.
func TestMerchantWithoutKeyWaits(t *testing.T) {
	offline := "http://" + closedAddr(t)
	core, logs := observer.New(zap.InfoLevel)
	app := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, offline)}}
	if err := app.provision(fileStorage(t), zap.New(core)); err != nil {
		t.Fatal(err)
	}
	m := app.Merchants["school"]
	h, _ := provisionedHandler(t, "")
	h.keySource = keySource{keys: m.currentKeys, started: m.started} // as useMerchant binds it
	answers503 := func(when string) {
		t.Helper()
		reached := false
		next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil })
		r := httptest.NewRequest("POST", sandbox.PresignPath, strings.NewReader(testkit.PresignBody))
		// Before Start the request waits for it while it lasts.
		ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
		defer cancel()
		r = r.WithContext(context.WithValue(ctx, caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r)))
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, next)
		var body struct{ Code, Message string }
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusServiceUnavailable || body.Message != errNoMerchantKey.message || reached {
			t.Errorf("%s: %d %s (upstream reached: %v), want 503 %q", when, w.Code, w.Body, reached, errNoMerchantKey.message)
		}
	}
	answers503("before Start")
	notify, _ := notifyHandler(t, nil)
	notify.keySource = keySource{keys: m.currentKeys, started: m.started}
	callbackAnswers503 := func(when string) {
		t.Helper()
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/notify", strings.NewReader(`{"id":"EV-1"}`))
		ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
		defer cancel()
		r = r.WithContext(ctx)
		_ = notify.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			t.Errorf("%s: the callback reached the app", when)
			return nil
		}))
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), errNoMerchantKey.message) {
			t.Errorf("%s: callback answered %d %s, want 503", when, w.Code, w.Body)
		}
	}
	callbackAnswers503("before Start")

	if err := app.Start(); err != nil {
		t.Fatalf("Start failed for a merchant whose download failed: %v", err)
	}
	defer func() { _ = app.Stop() }()
	answers503("after a failed Start")
	callbackAnswers503("after a failed Start")
	said := logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("no WeChat Pay key").All()
	if len(said) != 1 || !strings.Contains(said[0].ContextMap()["error"].(string), offline) {
		t.Errorf("logged %v, want one error naming the merchant's failed download", said)
	}
	if r := reportKeys(m.holderName(), m.currentKeys()); len(r.WechatPayKeys) != 0 || r.WechatPaySerial != "" {
		t.Errorf("keys report %+v, want no WeChat Pay key", r)
	}
}

// TestRequestBeforeStartWaitsForIt: Caddy may start the servers before the
// wechatpay app; a request that comes in first waits for the app's Start
// to bring the certificates in, and is then served with them.
func TestRequestBeforeStartWaitsForIt(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	app := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, cs.TS.URL)}}
	if err := app.provision(fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	m := app.Merchants["school"]
	h, _ := provisionedHandler(t, "")
	h.keySource = keySource{keys: m.currentKeys, started: m.started}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		r := httptest.NewRequest("POST", sandbox.PresignPath, strings.NewReader(testkit.PresignBody))
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r)))
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			cs.Srv.ServeHTTP(w, r)
			return nil
		}))
		done <- w
	}()
	select {
	case w := <-done:
		t.Fatalf("answered before Start: %d %s", w.Code, w.Body)
	case <-time.After(100 * time.Millisecond):
	}
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = app.Stop() }()
	if w := <-done; w.Code != 200 || !strings.Contains(w.Body.String(), "presign_token") {
		t.Errorf("after Start: %d %s", w.Code, w.Body)
	}
}

package wechatpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/dedup"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// newConfigContext returns a context as Caddy gives a configuration: with
// a registry of its own, cancelled when the test ends.
func newConfigContext(t testing.TB) (caddy.Context, *prometheus.Registry) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx, ctx.GetMetricsRegistry()
}

// provisionIn provisions a module from its JSON form in ctx.
func provisionIn(t testing.TB, ctx caddy.Context, m caddy.Provisioner, cfg string) {
	t.Helper()
	if err := provisionFrom(t, ctx, m, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
}

// handlerJSON is the JSON of a wechatpay handler with the test merchant's
// keys of its own; extra adds fields.
func handlerJSON(t testing.TB, extra string) string {
	c := testkit.Creds()
	dir := t.TempDir()
	return `{"mchid":"` + c.MchID + `","serial_no":"` + c.SerialNo + `",
		"private_key":"` + testkit.WriteFile(t, dir, "k.pem", testkit.PKCS8(c.MerchantKey)) + `",
		"public_key_id":"` + c.PublicKeyID + `",
		"public_key":"` + testkit.WriteFile(t, dir, "p.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)) + `",
		` + testHostAllowed + extra + `}`
}

// scrape gathers reg, as the admin endpoint's /metrics does (a gather
// error, a duplicate series say, fails the test), and returns the module's
// series as lines, sorted: `name{label="value",...} value`. Histograms
// appear as their _count: durations are not asserted.
func scrape(t testing.TB, reg prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the metrics: %v", err)
	}
	var lines []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "caddy_wechatpay_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			name, value := mf.GetName(), 0.0
			switch mf.GetType().String() {
			case "COUNTER":
				value = m.GetCounter().GetValue()
			case "GAUGE":
				value = m.GetGauge().GetValue()
			case "HISTOGRAM":
				name, value = name+"_count", float64(m.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("%s is a %s", mf.GetName(), mf.GetType())
			}
			var labels []string
			for _, p := range m.GetLabel() {
				labels = append(labels, p.GetName()+"="+strconv.Quote(p.GetValue()))
			}
			lines = append(lines, name+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(value, 'f', -1, 64))
		}
	}
	slices.Sort(lines)
	return lines
}

// processWide are the series of the whole process, which other tests
// change: each has a test of its own.
var processWide = []string{"caddy_wechatpay_key_reloads_total",
	"caddy_wechatpay_replay_window_entries", "caddy_wechatpay_replay_window_max_entries",
	"caddy_wechatpay_replay_window_checks_total"}

// without drops the lines of the named metrics.
func without(lines []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		for _, n := range names {
			if strings.HasPrefix(l, n+"{") {
				return true
			}
		}
		return false
	})
}

// assertLines compares scraped lines with want, exactly.
func assertLines(t *testing.T, got, want []string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("series differ\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// signedAnswer is a next handler answering body signed with key (the
// WeChat Pay public key's private half unless another is given), as WeChat
// Pay does, with the SDK.
func signedAnswer(t testing.TB, key *rsa.PrivateKey, body string) caddyhttp.Handler {
	c := testkit.Creds()
	if key == nil {
		key = c.WechatPayKey
	}
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		testkit.SignWechatPay(t, w.Header(), key, c.PublicKeyID, time.Now().Unix(), testkit.RandomAlnum(32), []byte(body), "")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write([]byte(body))
		return err
	})
}

func call(t testing.TB, h caddyhttp.MiddlewareHandler, method, target, body string, next caddyhttp.Handler) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return runHandler(t, h, r, next)
}

// TestHandlerMetrics drives a mix of requests through a handler and reads
// back every series, exactly: the outcome of each (verified, unverified,
// the refusal code), its endpoint template (documented, an encrypt rule's,
// or other: never the path), its method, the encrypted values, the failed
// verification, and one module-stage observation per request besides one
// upstream-stage observation per request that went upstream.
func TestHandlerMetrics(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, `,"encrypt":[{"method":"POST","path":"/v3/custom/{id}/cards","fields":["card_no"]}]`))
	c := testkit.Creds()
	const mch = `merchant="1900000001"`
	// Before any request: the stages and the verification codes start at 0.
	var want []string
	for _, code := range metriclabels.VerifyCodes {
		want = append(want, `caddy_wechatpay_response_verification_failures_total{code="`+code+`",`+mch+`} 0`)
	}
	assertLines(t, without(scrape(t, reg), append(processWide, refusalsMetric)...), append(want,
		`caddy_wechatpay_encrypted_fields_total{`+mch+`} 0`,
		`caddy_wechatpay_request_duration_seconds_count{`+mch+`,stage="module"} 0`,
		`caddy_wechatpay_request_duration_seconds_count{`+mch+`,stage="upstream"} 0`,
	))

	ok := signedAnswer(t, nil, `{"presign_token":"t"}`)
	if w := call(t, h, "POST", "/v3/eduschoolpay/contracts/presign", testkit.PresignBody, ok); w.Code != 200 {
		t.Fatalf("presign: %d %s", w.Code, w.Body)
	}
	call(t, h, "POST", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":42}}`, ok) // PARAM_ERROR
	call(t, h, "GET", "/v4/secret-path/user-1234?token=abc", "", ok)                              // NOT_FOUND
	if w := call(t, h, "GET", "/v3/pay/transactions/out-trade-no/ORDER-5678?mchid=1900000001", "", signedAnswer(t, c.PlatformKey, `{}`)); w.Code != 502 {
		t.Fatalf("forged answer: %d %s", w.Code, w.Body)
	}
	download := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, err := w.Write([]byte("bill"))
		return err
	})
	call(t, h, "GET", "/v3/billdownload/file?token=T", "", download) // no record: BILL_UNVERIFIED
	call(t, h, "POST", "/v3/custom/77/cards", `{"card_no":"6222021234567890123"}`, ok)
	down := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return caddyhttp.Error(http.StatusBadGateway, errors.New("dial tcp: connection refused"))
	})
	call(t, h, "POST", "/v3/refund/domestic/refunds", `{}`, down)
	call(t, h, "BREW", "/v3/unknown/ORDER-9", "", ok)

	want = want[:0]
	for _, code := range metriclabels.VerifyCodes {
		n := 0
		if code == apiv3.CodeSignatureInvalid {
			n = 1
		}
		want = append(want, fmt.Sprintf(`caddy_wechatpay_response_verification_failures_total{code="%s",%s} %d`, code, mch, n))
	}
	assertLines(t, without(scrape(t, reg), append(processWide, refusalsMetric)...), append(want,
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",`+mch+`,method="POST",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",`+mch+`,method="POST",outcome="PARAM_ERROR"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",`+mch+`,method="GET",outcome="NOT_FOUND"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",`+mch+`,method="GET",outcome="SIGNATURE_INVALID"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/billdownload/file",`+mch+`,method="GET",outcome="BILL_UNVERIFIED"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/custom/{id}/cards",`+mch+`,method="POST",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/refund/domestic/refunds",`+mch+`,method="POST",outcome="UPSTREAM_UNREACHABLE"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",`+mch+`,method="OTHER",outcome="verified"} 1`,
		fmt.Sprintf(`caddy_wechatpay_encrypted_fields_total{%s} %d`, mch, len(testkit.PresignPlain)+1),
		`caddy_wechatpay_request_duration_seconds_count{`+mch+`,stage="module"} 8`,
		`caddy_wechatpay_request_duration_seconds_count{`+mch+`,stage="upstream"} 5`, // the bill download without a record is refused before upstream
	))
}

// TestHandlerMetricsReplay: an answer played a second time is refused and
// counted as a failed verification with its own code; the process's replay
// window holds the first, and counts one fresh signature and one replay.
func TestHandlerMetricsReplay(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, ""))
	var recorded *httptest.ResponseRecorder
	replayed := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if recorded == nil { // the first answer, signed by WeChat Pay, recorded
			recorded = httptest.NewRecorder()
			if err := signedAnswer(t, nil, `{"trade_state":"SUCCESS"}`).ServeHTTP(recorded, r); err != nil {
				return err
			}
		}
		for k, v := range recorded.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(recorded.Code)
		_, err := w.Write(recorded.Body.Bytes())
		return err
	})
	before := replayWindow.Stats()
	const uri = "/v3/pay/transactions/out-trade-no/ORDER-1?mchid=1900000001"
	if w := call(t, h, "GET", uri, "", replayed); w.Code != 200 {
		t.Fatalf("first answer: %d %s", w.Code, w.Body)
	}
	if w := call(t, h, "GET", uri, "", replayed); w.Code != 502 || !strings.Contains(w.Body.String(), apiv3.CodeSignatureReplayed) {
		t.Fatalf("replayed answer: %d %s", w.Code, w.Body)
	}
	const mch = `merchant="1900000001"`
	lines := scrape(t, reg)
	for _, want := range []string{
		`caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",` + mch + `,method="GET",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",` + mch + `,method="GET",outcome="SIGNATURE_REPLAYED"} 1`,
		`caddy_wechatpay_response_verification_failures_total{code="SIGNATURE_REPLAYED",` + mch + `} 1`,
		`caddy_wechatpay_response_verification_failures_total{code="REPLAY_WINDOW_FULL",` + mch + `} 0`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %s in\n\t%s", want, strings.Join(lines, "\n\t"))
		}
	}
	// The window is the process's, and no other test runs meanwhile: this
	// test's answer is its one new entry, its two checks the only new ones.
	for _, want := range []string{
		fmt.Sprintf("caddy_wechatpay_replay_window_entries{} %d", before.Entries+1),
		fmt.Sprintf(`caddy_wechatpay_replay_window_checks_total{verdict="fresh"} %d`, before.Fresh+1),
		fmt.Sprintf(`caddy_wechatpay_replay_window_checks_total{verdict="replay"} %d`, before.Replays+1),
		fmt.Sprintf(`caddy_wechatpay_replay_window_checks_total{verdict="full"} %d`, before.Full),
		fmt.Sprintf(`caddy_wechatpay_replay_window_checks_total{verdict="out_of_window"} %d`, before.OutOfWindow),
		fmt.Sprintf(`caddy_wechatpay_replay_window_checks_total{verdict="forgotten"} %d`, before.Forgotten),
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %s in\n\t%s", want, strings.Join(lines, "\n\t"))
		}
	}
}

// TestRequestDurationBuckets: each stage has buckets for its own scale,
// under one name.
func TestRequestDurationBuckets(t *testing.T) {
	ctx, reg := newConfigContext(t)
	provisionIn(t, ctx, new(Handler), handlerJSON(t, ""))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "caddy_wechatpay_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var stage string
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" {
					stage = l.GetValue()
				}
			}
			for _, b := range m.GetHistogram().GetBucket() {
				got[stage] = append(got[stage], b.GetUpperBound())
			}
		}
	}
	if !slices.Equal(got["module"], []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}) ||
		!slices.Equal(got["upstream"], []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}) || len(got) != 2 {
		t.Errorf("buckets %v", got)
	}
}

// TestMetricsCostNoAllocation: once a series exists, a request costs the
// same allocations with the metrics as without them.
func TestMetricsCostNoAllocation(t *testing.T) {
	ctx, _ := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, ""))
	h.logger = zap.NewNop()
	next := signedAnswer(t, nil, `{"presign_token":"t"}`)
	run := func() {
		r := httptest.NewRequest(http.MethodPost, "/v3/eduschoolpay/contracts/presign", strings.NewReader(testkit.PresignBody))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		if err := h.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
			t.Fatal(err)
		}
	}
	run()
	measured := testing.AllocsPerRun(50, run)
	metrics := h.metrics
	h.metrics = nil
	bare := testing.AllocsPerRun(50, run)
	h.metrics = metrics
	// The next handler signs with the SDK each time, whose allocations
	// vary by a few; the metrics' own would show as a steady difference.
	if measured > bare+1 {
		t.Errorf("a request allocates %.1f times with the metrics, %.1f without", measured, bare)
	}
	t.Logf("allocations per request: %.1f with the metrics, %.1f without", measured, bare)
}

// TestNotifyMetrics counts callbacks by outcome: delivered, duplicate,
// app_failed and a refusal, each verified one with its event_type.
func TestNotifyMetrics(t *testing.T) {
	ctx, reg := newConfigContext(t)
	c := testkit.Creds()
	t.Setenv("TEST_WECHATPAY_APIV3_KEY", testkit.APIv3Key)
	pub := testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	h := new(NotifyHandler)
	provisionIn(t, ctx, h, `{"apiv3_key":"{env.TEST_WECHATPAY_APIV3_KEY}","public_key_id":"`+c.PublicKeyID+`","public_key":"`+pub+`","dedup":false}`)
	h.store = &dedup.Store{Storage: testkit.NewMemStorage(), Scope: c.PublicKeyID, Now: time.Now}

	app := &fakeApp{status: 200}
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	deliver(t, h, cb, app)                                                                     // delivered
	deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID}), app)              // duplicate
	deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{SignKey: c.PlatformKey}), app) // refused
	app.status = 500
	deliver(t, h, testkit.BuildCallback(t, testkit.CallbackSpec{EventType: "REFUND.SUCCESS"}), app) // app_failed

	const mch = `merchant="` + "PUB_KEY_ID_0114232134912410000000000000" + `"`
	want := []string{
		`caddy_wechatpay_callbacks_total{event_type="TRANSACTION.SUCCESS",` + mch + `,outcome="delivered"} 1`,
		`caddy_wechatpay_callbacks_total{event_type="TRANSACTION.SUCCESS",` + mch + `,outcome="duplicate"} 1`,
		`caddy_wechatpay_callbacks_total{event_type="REFUND.SUCCESS",` + mch + `,outcome="app_failed"} 1`,
	}
	for _, code := range callbackRefusalCodes { // at 0 from the start, for the alert
		n := 0
		if code == apiv3.CodeSignatureInvalid {
			n = 1
		}
		want = append(want, fmt.Sprintf(`caddy_wechatpay_callbacks_total{event_type="",%s,outcome="%s"} %d`, mch, code, n))
	}
	assertLines(t, without(scrape(t, reg), processWide...), want)
}

// BenchmarkHandlerMetrics is what the metrics add to a request, alone:
// the endpoint label's lookup, the counters and the two observations of a
// verified presign.
//
//	go test -run XXX -bench HandlerMetrics -benchmem .
func BenchmarkHandlerMetrics(b *testing.B) {
	ctx, _ := newConfigContext(b)
	h := new(Handler)
	provisionIn(b, ctx, h, handlerJSON(b, ""))
	r := httptest.NewRequest(http.MethodPost, "/v3/eduschoolpay/contracts/presign", nil)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		var upstream upstreamTimer
		h.metrics.fields(5)
		upstream.stop(time.Now())
		h.metrics.request(r, metriclabels.Verified)
		h.metrics.durations(start, &upstream)
	}
}

// TestReSignMetrics: a payment invocation signed again is counted in
// requests_total, outcome signed, as its refusals are with their codes.
func TestReSignMetrics(t *testing.T) {
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, `,"request_payment":true`))
	if w := reSign(t, h, http.MethodPost, `{"type":"jsapi","appid":"`+testAppID+`","prepay_id":"wx201410272009395522657a690389285100"}`); w.Code != 200 {
		t.Fatalf("re-sign: %d %s", w.Code, w.Body)
	}
	reSign(t, h, http.MethodPost, `{"type":"jsapi","appid":"wx1"}`) // PARAM_ERROR
	const mch = `merchant="1900000001"`
	lines := scrape(t, reg)
	for _, want := range []string{
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="POST",outcome="signed"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="POST",outcome="PARAM_ERROR"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %s in\n\t%s", want, strings.Join(lines, "\n\t"))
		}
	}
}

// TestFrontendSignMetrics: a form the proxy signs with the APIv2 key is
// counted as signed, as a re-signed invocation is, and a refused one under
// its code.
func TestFrontendSignMetrics(t *testing.T) {
	t.Setenv("TEST_WECHATPAY_APIV2_KEY", testAPIv2Key)
	ctx, reg := newConfigContext(t)
	h := new(Handler)
	provisionIn(t, ctx, h, handlerJSON(t, `,"apiv2_key":"{env.TEST_WECHATPAY_APIV2_KEY}"`))
	if w, _ := postForm(t, h, sendCouponPath, `{"send_coupon_params":[{"stock_id":"1212","out_request_no":"REQ1"}]}`); w.Code != 200 {
		t.Fatalf("send-coupon: %d %s", w.Code, w.Body)
	}
	postForm(t, h, sendCouponPath, `{"send_coupon_params":[]}`) // PARAM_ERROR
	const mch = `merchant="1900000001"`
	lines := scrape(t, reg)
	for _, want := range []string{
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="POST",outcome="signed"} 1`,
		`caddy_wechatpay_requests_total{endpoint="other",` + mch + `,method="POST",outcome="PARAM_ERROR"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %s in\n\t%s", want, strings.Join(lines, "\n\t"))
		}
	}
}

package wechatpay

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

func TestClockSkewWarnsHourly(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	logger := zap.New(core)
	var c clockSkew
	now := time.Unix(1_800_000_000, 0)
	c.observe(logger, now, apiv3.Signed{Timestamp: now.Unix() - 59})
	if logs.Len() != 0 {
		t.Fatalf("warned at 59 s: %v", logs.All())
	}
	c.observe(logger, now, apiv3.Signed{Timestamp: now.Unix() + 412})
	c.observe(logger, now.Add(59*time.Minute), apiv3.Signed{Timestamp: now.Unix() + 412})
	if logs.Len() != 1 || logs.All()[0].ContextMap()["clock"] != "412 s behind WeChat Pay" {
		t.Fatalf("want one warning naming the offset: %v", logs.All())
	}
	c.observe(logger, now.Add(61*time.Minute), apiv3.Signed{Timestamp: now.Unix() + 3660 - 300})
	if logs.Len() != 2 {
		t.Errorf("no second warning an hour later: %d", logs.Len())
	}
	if r := c.report(); r.Samples != 4 || r.OffsetSeconds != 300 || r.MeasuredAt == nil {
		t.Errorf("report %+v", r)
	}
}

func TestClockHint(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	header := func(ts int64, date time.Time) http.Header {
		h := http.Header{}
		h.Set("Wechatpay-Timestamp", itoa(int(ts)))
		if !date.IsZero() {
			h.Set("Date", date.UTC().Format(http.TimeFormat))
		}
		return h
	}
	var c clockSkew
	signedStale := &apiv3.VerifyError{Code: apiv3.CodeTimestampExpired, Authentic: true}
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"WeChat Pay ahead, its Date agrees", header(now.Unix()+412, now.Add(412*time.Second)), "this host's clock is 412 s behind WeChat Pay"},
		{"WeChat Pay behind, its Date agrees", header(now.Unix()-400, now.Add(-395*time.Second)), "this host's clock is 400 s ahead of WeChat Pay"},
		{"Date disagrees: a replay", header(now.Unix()-400, now), ""},
		{"no Date, nothing measured", header(now.Unix()-400, time.Time{}), ""},
	} {
		if got := c.clockHint(now, tc.header, signedStale); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	c.observe(zap.NewNop(), now.Add(-time.Minute), apiv3.Signed{Timestamp: now.Unix() - 60 - 290})
	if got := c.clockHint(now, header(now.Unix()-400, time.Time{}), signedStale); !strings.Contains(got, "measured this host's clock 290 s ahead") {
		t.Errorf("no Date, a recent measure: %q", got)
	}
	forged := &apiv3.VerifyError{Code: apiv3.CodeTimestampExpired}
	if got := c.clockHint(now, header(now.Unix()+412, now.Add(412*time.Second)), forged); got != "" {
		t.Errorf("a message WeChat Pay did not sign: %q", got)
	}
}

// TestServeHTTPNamesTheClock: a response refused as stale whose Date header
// agrees with its timestamp tells the app that this host's clock is off.
func TestServeHTTPNamesTheClock(t *testing.T) {
	stub := testkit.NewStub(t)
	h, logs := provisionedHandler(t, "")
	stub.SetResponse(testkit.StubResponse{TimeShift: 412 * time.Second,
		ExtraHeader: http.Header{"Date": {time.Now().Add(412 * time.Second).UTC().Format(http.TimeFormat)}}})
	r := httptest.NewRequest("GET", "/v3/pay/transactions/id/4200000001?mchid=1900000001", nil)
	w, _, _ := serve(t, h, r, func(w http.ResponseWriter, r *http.Request) { stub.Config.Handler.ServeHTTP(w, r) })
	if w.Code != 502 || !strings.Contains(w.Body.String(), "TIMESTAMP_EXPIRED") ||
		!strings.Contains(w.Body.String(), "this host's clock is 41") || !strings.Contains(w.Body.String(), "s behind WeChat Pay") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if e := logs.FilterMessage("WeChat Pay's answer failed verification").All(); len(e) != 1 || !strings.Contains(e[0].ContextMap()["clock"].(string), "behind WeChat Pay") {
		t.Errorf("the log line does not name the clock: %v", e)
	}
}

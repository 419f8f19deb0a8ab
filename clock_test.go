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

// TestClockHintNeedsASignedMessage: the hint is given only for a stale
// message whose signature verified (VerifyError.Authentic); the hint's own
// rules are internal/clockskew's.
func TestClockHintNeedsASignedMessage(t *testing.T) {
	var c clockSkew
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", itoa(int(now.Unix()+412)))
	h.Set("Date", now.Add(412*time.Second).UTC().Format(http.TimeFormat))
	if got := c.clockHint(now, h, &apiv3.VerifyError{Code: apiv3.CodeTimestampExpired, Authentic: true}); !strings.HasPrefix(got, "this host's clock is 412 s behind WeChat Pay") {
		t.Errorf("signed: %q", got)
	}
	for _, ve := range []*apiv3.VerifyError{{Code: apiv3.CodeTimestampExpired}, nil} {
		if got := c.clockHint(now, h, ve); got != "" {
			t.Errorf("not signed (%v): %q", ve, got)
		}
	}
}

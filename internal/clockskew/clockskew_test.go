package clockskew

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestObserveWarnsHourly(t *testing.T) {
	var c Clock
	now := time.Unix(1_800_000_000, 0)
	if _, warn := c.Observe(now, now.Unix()-59); warn {
		t.Fatal("a warning at 59 s")
	}
	if off, warn := c.Observe(now, now.Unix()+412); !warn || off != -412 || Describe(off) != "412 s behind WeChat Pay" {
		t.Fatalf("412 s behind: %d %v", off, warn)
	}
	if _, warn := c.Observe(now.Add(59*time.Minute), now.Unix()+412); warn {
		t.Error("a second warning within the hour")
	}
	if _, warn := c.Observe(now.Add(61*time.Minute), now.Unix()+3660-300); !warn {
		t.Error("no warning an hour later")
	}
	if r := c.Report(); r.Samples != 4 || r.OffsetSeconds != 300 || r.MeasuredAt == nil {
		t.Errorf("report %+v", r)
	}
	if r := new(Clock).Report(); r.MeasuredAt != nil || r.Samples != 0 {
		t.Errorf("nothing measured: %+v", r)
	}
}

func TestClockHint(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	header := func(ts int64, date time.Time) http.Header {
		h := http.Header{}
		h.Set("Wechatpay-Timestamp", strconv.FormatInt(ts, 10))
		if !date.IsZero() {
			h.Set("Date", date.UTC().Format(http.TimeFormat))
		}
		return h
	}
	var c Clock
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
		if got := c.Hint(now, tc.header); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	c.Observe(now.Add(-time.Minute), now.Unix()-60-290)
	if got := c.Hint(now, header(now.Unix()-400, time.Time{})); !strings.Contains(got, "measured this host's clock 290 s ahead") {
		t.Errorf("no Date, a recent measure: %q", got)
	}
}

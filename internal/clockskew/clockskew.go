// Package clockskew measures this host's clock against WeChat Pay's from
// the timestamps of the signatures it verifies, and says when a refusal is
// most likely this host's clock's fault.
//
// A host whose clock drifts 5 minutes from WeChat Pay's gets every request
// refused by WeChat Pay and every response refused by the proxy, and the
// refusals only say "signature" or "timestamp". The proxy therefore warns
// well before it matters, and names the clock in the refusals it explains.
// The package imports neither Caddy nor zap: the caller logs the warnings.
package clockskew

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// WarnAt is the offset from which a warning is due.
	WarnAt = 60 * time.Second
	// WarnEvery spaces the warnings.
	WarnEvery = time.Hour
)

// Clock is this host's clock measured against WeChat Pay's. Its fields are
// atomics: every verified signature updates it. The zero Clock has
// measured nothing.
type Clock struct {
	offset     atomic.Int64 // seconds, local minus WeChat Pay, at the last measure
	measuredAt atomic.Int64 // unix seconds, local clock; 0: never
	samples    atomic.Int64
	warnedAt   atomic.Int64 // unix seconds of the last warning
}

// Observe records the offset shown by a verified signature's timestamp ts
// (unix seconds), read at local time now, and reports whether a warning is
// due: the offset is at least WarnAt and none was due in the last
// WarnEvery. The measure includes the network delay, a fraction of a
// second.
func (c *Clock) Observe(now time.Time, ts int64) (offset int64, warn bool) {
	offset = now.Unix() - ts
	c.offset.Store(offset)
	c.measuredAt.Store(now.Unix())
	c.samples.Add(1)
	if time.Duration(abs(offset))*time.Second < WarnAt {
		return offset, false
	}
	last := c.warnedAt.Load()
	if now.Unix()-last < int64(WarnEvery/time.Second) || !c.warnedAt.CompareAndSwap(last, now.Unix()) {
		return offset, false
	}
	return offset, true
}

// Report is the last measure, as GET /wechatpay/clock answers it.
type Report struct {
	// OffsetSeconds is this host's clock minus WeChat Pay's, at the last
	// verified signature: positive, this host is ahead.
	OffsetSeconds int64 `json:"offset_seconds"`
	// MeasuredAt is when, by this host's clock; absent when nothing was
	// verified yet.
	MeasuredAt *time.Time `json:"measured_at,omitempty"`
	// Samples counts the verified signatures measured since start.
	Samples int64 `json:"samples"`
}

// Report returns the last measure.
func (c *Clock) Report() Report {
	r := Report{OffsetSeconds: c.offset.Load(), Samples: c.samples.Load()}
	if at := c.measuredAt.Load(); at != 0 {
		t := time.Unix(at, 0).UTC()
		r.MeasuredAt = &t
	}
	return r
}

// Hint explains a TIMESTAMP_EXPIRED refusal of a response or callback when
// this host's clock, not the message, is the likely cause: WeChat Pay's
// Date header agrees (within a minute) with the stale or future timestamp,
// so it is this host that is off; or, without a Date header, the last
// verified signature measured this host off by more than a minute. It
// returns "" otherwise.
func (c *Clock) Hint(now time.Time, header http.Header) string {
	ts, err := strconv.ParseInt(strings.TrimSpace(header.Get("Wechatpay-Timestamp")), 10, 64)
	if err != nil {
		return ""
	}
	if date, err := http.ParseTime(header.Get("Date")); err == nil {
		if abs(date.Unix()-ts) > int64(WarnAt/time.Second) {
			return "" // WeChat Pay's two clocks disagree: a replayed or altered message, not this host
		}
		return "this host's clock is " + Describe(now.Unix()-ts) + " (WeChat Pay's Date header agrees with its timestamp): correct this host's clock (NTP)"
	}
	if at := c.measuredAt.Load(); at != 0 && now.Unix()-at < int64(WarnEvery/time.Second) {
		if off := c.offset.Load(); time.Duration(abs(off))*time.Second >= WarnAt {
			return "verified signatures measured this host's clock " + Describe(off) + ": correct this host's clock (NTP)"
		}
	}
	return ""
}

// Describe says an offset (local minus WeChat Pay, in seconds) in words,
// e.g. "412 s behind WeChat Pay".
func Describe(offset int64) string {
	switch {
	case offset > 0:
		return fmt.Sprintf("%d s ahead of WeChat Pay", offset)
	case offset < 0:
		return fmt.Sprintf("%d s behind WeChat Pay", -offset)
	}
	return "in step with WeChat Pay"
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

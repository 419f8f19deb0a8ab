package wechatpay

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// A host whose clock drifts 5 minutes from WeChat Pay's gets every request
// refused by WeChat Pay and every response refused by the proxy, and the
// refusals only say "signature" or "timestamp". The proxy therefore
// measures the offset of this host's clock from the timestamps of the
// responses and callbacks it verifies, warns well before it matters, and
// names the clock when a refusal is most likely its fault.

const (
	// skewWarnAt is the offset from which a warning is logged.
	skewWarnAt = 60 * time.Second
	// skewWarnEvery spaces the warnings.
	skewWarnEvery = time.Hour
)

// clockSkew is this host's clock measured against WeChat Pay's, one per
// process. Its fields are atomics: every verified response updates it.
type clockSkew struct {
	offset     atomic.Int64 // seconds, local minus WeChat Pay, at the last measure
	measuredAt atomic.Int64 // unix seconds, local clock; 0: never
	samples    atomic.Int64
	warnedAt   atomic.Int64 // unix seconds of the last warning
}

var hostClock clockSkew

// observe records the offset shown by a verified signature's timestamp,
// read at local time now, and warns (at most hourly) past skewWarnAt. The
// measure includes the network delay, a fraction of a second.
func (c *clockSkew) observe(logger *zap.Logger, now time.Time, signed apiv3.Signed) {
	offset := now.Unix() - signed.Timestamp
	c.offset.Store(offset)
	c.measuredAt.Store(now.Unix())
	c.samples.Add(1)
	if time.Duration(abs(offset))*time.Second < skewWarnAt {
		return
	}
	last := c.warnedAt.Load()
	if now.Unix()-last < int64(skewWarnEvery/time.Second) || !c.warnedAt.CompareAndSwap(last, now.Unix()) {
		return
	}
	logger.Warn("this host's clock is off: WeChat Pay refuses requests, and the proxy refuses responses, when the difference reaches 5 minutes; correct the clock (NTP)",
		zap.String("clock", describeOffset(offset)), zap.Int64("offset_seconds", offset))
}

// clockReport is GET /wechatpay/clock's answer.
type clockReport struct {
	// OffsetSeconds is this host's clock minus WeChat Pay's, at the last
	// verified signature: positive, this host is ahead.
	OffsetSeconds int64 `json:"offset_seconds"`
	// MeasuredAt is when, by this host's clock; absent when nothing was
	// verified yet.
	MeasuredAt *time.Time `json:"measured_at,omitempty"`
	// Samples counts the verified signatures measured since start.
	Samples int64 `json:"samples"`
}

func (c *clockSkew) report() clockReport {
	r := clockReport{OffsetSeconds: c.offset.Load(), Samples: c.samples.Load()}
	if at := c.measuredAt.Load(); at != 0 {
		t := time.Unix(at, 0).UTC()
		r.MeasuredAt = &t
	}
	return r
}

// clockHint explains a TIMESTAMP_EXPIRED refusal of a response or callback
// when this host's clock, not the message, is the likely cause: WeChat
// Pay's Date header agrees (within a minute) with the stale or future
// timestamp, so it is this host that is off; or, without a Date header,
// the last verified signature measured this host off by more than a
// minute. It returns "" otherwise, and always for a message WeChat Pay
// did not sign (ve not Authentic): a forged one must neither raise a
// clock warning nor be told of this host's clock.
func (c *clockSkew) clockHint(now time.Time, header http.Header, ve *apiv3.VerifyError) string {
	if ve == nil || !ve.Authentic {
		return ""
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(header.Get("Wechatpay-Timestamp")), 10, 64)
	if err != nil {
		return ""
	}
	if date, err := http.ParseTime(header.Get("Date")); err == nil {
		if abs(date.Unix()-ts) > int64(skewWarnAt/time.Second) {
			return "" // WeChat Pay's two clocks disagree: a replayed or altered message, not this host
		}
		return "this host's clock is " + describeOffset(now.Unix()-ts) + " (WeChat Pay's Date header agrees with its timestamp): correct this host's clock (NTP)"
	}
	if at := c.measuredAt.Load(); at != 0 && now.Unix()-at < int64(skewWarnEvery/time.Second) {
		if off := c.offset.Load(); time.Duration(abs(off))*time.Second >= skewWarnAt {
			return "verified signatures measured this host's clock " + describeOffset(off) + ": correct this host's clock (NTP)"
		}
	}
	return ""
}

// describeOffset says an offset (local minus WeChat Pay, in seconds) in
// words, e.g. "412 s behind WeChat Pay".
func describeOffset(offset int64) string {
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

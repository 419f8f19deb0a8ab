package wechatpay

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clockskew"
)

// clockSkew is this host's clock measured against WeChat Pay's
// (internal/clockskew), with the warning logged.
type clockSkew struct{ clock clockskew.Clock }

// hostClock is the process's measure, fed by both handlers.
var hostClock clockSkew

// observe records the offset a verified signature shows, read at local
// time now, and warns (at most hourly) past clockskew.WarnAt.
func (c *clockSkew) observe(logger *zap.Logger, now time.Time, signed apiv3.Signed) {
	if offset, warn := c.clock.Observe(now, signed.Timestamp); warn {
		logger.Warn("this host's clock is off: WeChat Pay refuses requests, and the proxy refuses responses, when the difference reaches 5 minutes; correct the clock (NTP)",
			zap.String("clock", clockskew.Describe(offset)), zap.Int64("offset_seconds", offset))
	}
}

// clockHint explains a TIMESTAMP_EXPIRED refusal when this host's clock is
// the likely cause, else "" (clockskew.Clock.Hint); always "" for a message
// WeChat Pay did not sign (ve not Authentic): a forged one must neither
// raise a clock warning nor be told of this host's clock.
func (c *clockSkew) clockHint(now time.Time, header http.Header, ve *apiv3.VerifyError) string {
	if ve == nil || !ve.Authentic {
		return ""
	}
	return c.clock.Hint(now, header)
}

// report is GET /wechatpay/clock's answer.
func (c *clockSkew) report() clockskew.Report { return c.clock.Report() }

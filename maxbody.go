package wechatpay

import (
	"errors"
	"math"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// max_body, the option both handlers share.

// maxBodyLimit is the largest max_body of either handler: a body is held in
// memory whole (to encrypt its fields, or to verify a callback), so a
// larger cap would only let a client make Caddy buffer more.
const maxBodyLimit = 1 << 30

// checkMaxBody checks max_body as Provision does for both handlers, from a
// Caddyfile or JSON alike: 0 (the default), or 1 byte to maxBodyLimit.
func checkMaxBody(n int64) error {
	if n < 0 {
		return errors.New("max_body must not be negative")
	}
	if n > maxBodyLimit {
		return errors.New("max_body must be at most 1GiB: the body is held in memory")
	}
	return nil
}

// parseMaxBody reads max_body's Caddyfile value v, a size such as the
// examples; its bounds are Provision's to check, as for JSON.
func parseMaxBody(d *caddyfile.Dispenser, v, examples string) (int64, error) {
	size, err := humanize.ParseBytes(v)
	if err != nil || size == 0 {
		return 0, d.Errf("max_body: %q is not a size such as %s", v, examples)
	}
	return maxBodyOf(size), nil
}

// maxBodyOf converts a size to a max_body value; one past int64 is kept
// over the limit, for Provision to refuse.
func maxBodyOf(size uint64) int64 {
	return int64(min(size, math.MaxInt64))
}

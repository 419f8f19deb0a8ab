package wechatpay

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestMaxBodyBounds: both handlers take max_body from 1 byte to 1GiB, from
// JSON as from a Caddyfile, checked at Provision with one message.
func TestMaxBodyBounds(t *testing.T) {
	provisionHandler := func(maxBody int64) error {
		ctx, _ := newConfigContext(t)
		h := new(Handler)
		if err := json.Unmarshal([]byte(handlerJSON(t, `,"max_body":`+strconv.FormatInt(maxBody, 10))), h); err != nil {
			t.Fatal(err)
		}
		return h.Provision(ctx)
	}
	provisionCallbacks := func(maxBody int64) error {
		_, err := provisionNotify(t, `,"dedup":false,"max_body":`+strconv.FormatInt(maxBody, 10))
		return err
	}
	for name, provision := range map[string]func(int64) error{"wechatpay": provisionHandler, "wechatpay_notify": provisionCallbacks} {
		for _, tc := range []struct {
			maxBody int64
			want    string // "" for accepted
		}{
			{1, ""}, {64 << 10, ""}, {1 << 30, ""},
			{1<<30 + 1, "max_body must be at most 1GiB"},
			{1 << 40, "max_body must be at most 1GiB"},
			{-1, "max_body must not be negative"},
		} {
			err := provision(tc.maxBody)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("%s, max_body %d: %v, want %q", name, tc.maxBody, err, tc.want)
			}
		}
	}
	// A Caddyfile size past int64 is kept over the bound, not wrapped.
	if n := maxBodyOf(1 << 63); checkMaxBody(n) == nil {
		t.Errorf("maxBodyOf(1<<63) = %d passes", n)
	}
}

package wechatpay

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// sweepersOf counts the sweepers running for scope.
func sweepersOf(scope string) int {
	sweepers.Lock()
	defer sweepers.Unlock()
	n := 0
	for k := range sweepers.running {
		if k.scope == scope {
			n++
		}
	}
	return n
}

// TestOneSweeperPerScope: two wechatpay_notify handlers of one scope in a
// configuration (two routes of one merchant) share one sweeper; another
// configuration running at the same time (a reload) has its own; each ends
// with its configuration's context.
func TestOneSweeperPerScope(t *testing.T) {
	c := testkit.Creds()
	t.Setenv("TEST_WECHATPAY_APIV3_KEY", testkit.APIv3Key)
	pub := testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	cfg := `{"apiv3_key":"{env.TEST_WECHATPAY_APIV3_KEY}","public_key_id":"` + c.PublicKeyID + `","public_key":"` + pub + `"}`
	storage := `{"module":"file_system","root":"` + t.TempDir() + `"}`
	// A configuration's context with its storage, as Caddy gives its
	// modules, and the cancel Caddy calls when it stops.
	config := func() (caddy.Context, context.CancelFunc) {
		ctx, err := caddy.ProvisionContext(&caddy.Config{StorageRaw: json.RawMessage(storage)})
		if err != nil {
			t.Fatal(err)
		}
		var cancel context.CancelFunc
		ctx.Context, cancel = context.WithCancel(ctx.Context)
		t.Cleanup(cancel)
		return ctx, cancel
	}
	first, stopFirst := config()
	for range 2 {
		h := new(NotifyHandler)
		provisionIn(t, first, h, cfg)
		if h.store == nil {
			t.Fatal("dedup is off")
		}
	}
	if n := sweepersOf(c.PublicKeyID); n != 1 {
		t.Fatalf("%d sweepers for two handlers of one scope, want 1", n)
	}
	second, stopSecond := config()
	provisionIn(t, second, new(NotifyHandler), cfg)
	if n := sweepersOf(c.PublicKeyID); n != 2 {
		t.Errorf("%d sweepers for two configurations, want 2", n)
	}
	stopFirst()
	stopSecond()
	deadline := time.Now().Add(5 * time.Second)
	for sweepersOf(c.PublicKeyID) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := sweepersOf(c.PublicKeyID); n != 0 {
		t.Errorf("%d sweepers left after their configurations stopped", n)
	}
}

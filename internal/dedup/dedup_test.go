package dedup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

func TestDedupStoreRecordExpireSweep(t *testing.T) {
	ms := testkit.NewMemStorage()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &Store{Storage: ms, Scope: "PUB_KEY_ID_0114232134912410000000000000", Now: func() time.Time { return now }}
	ctx := context.Background()
	if ok, err := d.Acknowledged(ctx, "EV-1"); ok || err != nil {
		t.Fatalf("fresh store: %v %v", ok, err)
	}
	if err := d.Record(ctx, "EV-1"); err != nil {
		t.Fatal(err)
	}
	if got := d.key("EV-1"); got != "wechatpay_notify/PUB_KEY_ID_0114232134912410000000000000/EV-1" {
		t.Errorf("key %s", got)
	}
	if ok, _ := d.Acknowledged(ctx, "EV-1"); !ok {
		t.Error("recorded id not acknowledged")
	}
	if ok, _ := d.Acknowledged(ctx, "EV-2"); ok {
		t.Error("other id acknowledged")
	}
	// Another scope (merchant) does not see it.
	other := &Store{Storage: ms, Scope: "PUB_KEY_ID_0114232134912410000000000099", Now: d.Now}
	if ok, _ := other.Acknowledged(ctx, "EV-1"); ok {
		t.Error("record leaked across scopes")
	}

	now = now.Add(TTL - time.Second)
	if ok, _ := d.Acknowledged(ctx, "EV-1"); !ok {
		t.Error("expired too early")
	}
	_ = d.Record(ctx, "EV-3")
	now = now.Add(2 * time.Second)
	if ok, _ := d.Acknowledged(ctx, "EV-1"); ok {
		t.Error("expired record still counts")
	}
	ms.Put("wechatpay_notify/PUB_KEY_ID_0114232134912410000000000000/garbage", []byte("not json"))
	n, err := d.Sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sweep removed %d (%v), want the expired record and the garbage", n, err)
	}
	if keys := ms.Keys(); len(keys) != 1 || !strings.HasSuffix(keys[0], "/EV-3") {
		t.Errorf("left %v", keys)
	}
	if n, err := other.Sweep(ctx); n != 0 || err != nil {
		t.Errorf("sweep of an empty scope: %d %v", n, err)
	}
}

func TestDedupStoreUnsafeIDs(t *testing.T) {
	ms := testkit.NewMemStorage()
	d := &Store{Storage: ms, Scope: "../../etc", Now: time.Now}
	for _, id := range []string{"../../x", "a/b", "EV 1", strings.Repeat("x", 200), "日本"} {
		k := d.key(id)
		if strings.Contains(k, "..") || strings.Count(k, "/") != 2 {
			t.Errorf("id %q gives key %q", id, k)
		}
		if err := d.Record(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if ok, _ := d.Acknowledged(context.Background(), id); !ok {
			t.Errorf("id %q not found again", id)
		}
	}
}

func TestDedupStoreErrorsAndLock(t *testing.T) {
	ms := testkit.NewMemStorage()
	d := &Store{Storage: ms, Scope: "s", Now: time.Now}
	ms.FailOn("load", errors.New("storage down"))
	if ok, err := d.Acknowledged(context.Background(), "EV-1"); ok || err == nil {
		t.Errorf("load failure: %v %v", ok, err)
	}
	ms.FailOn("load", nil)

	unlock, err := d.Lock(context.Background(), "EV-1")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := d.Lock(context.Background(), "EV-1")
		u()
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("second lock taken while the first is held")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unlock, _ = d.Lock(context.Background(), "EV-2")
	defer unlock()
	if u, err := d.Lock(ctx, "EV-2"); err == nil {
		t.Error("lock of a held id with a dead context succeeded")
	} else {
		u() // a no-op, never nil
	}
}

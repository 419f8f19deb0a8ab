package wechatpay

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStorage is an in-memory notifyStorage with injectable failures.
type memStorage struct {
	mu      sync.Mutex
	data    map[string][]byte
	locks   map[string]chan struct{}
	failAll error // every operation fails with it when set
	failOps map[string]error
	stores  int
}

func newMemStorage() *memStorage {
	return &memStorage{data: map[string][]byte{}, locks: map[string]chan struct{}{}, failOps: map[string]error{}}
}

func (m *memStorage) fail(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAll != nil {
		return m.failAll
	}
	return m.failOps[op]
}

func (m *memStorage) Lock(ctx context.Context, name string) error {
	if err := m.fail("lock"); err != nil {
		return err
	}
	for {
		m.mu.Lock()
		ch, held := m.locks[name]
		if !held {
			m.locks[name] = make(chan struct{})
			m.mu.Unlock()
			return nil
		}
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *memStorage) Unlock(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch, ok := m.locks[name]; ok {
		close(ch)
		delete(m.locks, name)
	}
	return nil
}

func (m *memStorage) Store(_ context.Context, key string, value []byte) error {
	if err := m.fail("store"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
	m.stores++
	return nil
}

func (m *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	if err := m.fail("load"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

func (m *memStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

func (m *memStorage) List(_ context.Context, prefix string, _ bool) ([]string, error) {
	if err := m.fail("list"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.data {
		if strings.HasPrefix(k, prefix+"/") {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	return out, nil
}

func (m *memStorage) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.data {
		out = append(out, k)
	}
	return out
}

func TestDedupStoreRecordExpireSweep(t *testing.T) {
	ms := newMemStorage()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &dedupStore{storage: ms, scope: "PUB_KEY_ID_0114232134912410000000000000", now: func() time.Time { return now }}
	ctx := context.Background()
	if ok, err := d.acknowledged(ctx, "EV-1"); ok || err != nil {
		t.Fatalf("fresh store: %v %v", ok, err)
	}
	if err := d.record(ctx, "EV-1"); err != nil {
		t.Fatal(err)
	}
	if got := d.key("EV-1"); got != "wechatpay_notify/PUB_KEY_ID_0114232134912410000000000000/EV-1" {
		t.Errorf("key %s", got)
	}
	if ok, _ := d.acknowledged(ctx, "EV-1"); !ok {
		t.Error("recorded id not acknowledged")
	}
	if ok, _ := d.acknowledged(ctx, "EV-2"); ok {
		t.Error("other id acknowledged")
	}
	// Another scope (merchant) does not see it.
	other := &dedupStore{storage: ms, scope: "PUB_KEY_ID_0114232134912410000000000099", now: d.now}
	if ok, _ := other.acknowledged(ctx, "EV-1"); ok {
		t.Error("record leaked across scopes")
	}

	now = now.Add(dedupTTL - time.Second)
	if ok, _ := d.acknowledged(ctx, "EV-1"); !ok {
		t.Error("expired too early")
	}
	_ = d.record(ctx, "EV-3")
	now = now.Add(2 * time.Second)
	if ok, _ := d.acknowledged(ctx, "EV-1"); ok {
		t.Error("expired record still counts")
	}
	ms.data["wechatpay_notify/PUB_KEY_ID_0114232134912410000000000000/garbage"] = []byte("not json")
	n, err := d.sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sweep removed %d (%v), want the expired record and the garbage", n, err)
	}
	if keys := ms.keys(); len(keys) != 1 || !strings.HasSuffix(keys[0], "/EV-3") {
		t.Errorf("left %v", keys)
	}
	if n, err := other.sweep(ctx); n != 0 || err != nil {
		t.Errorf("sweep of an empty scope: %d %v", n, err)
	}
}

func TestDedupStoreUnsafeIDs(t *testing.T) {
	ms := newMemStorage()
	d := &dedupStore{storage: ms, scope: "../../etc", now: time.Now}
	for _, id := range []string{"../../x", "a/b", "EV 1", strings.Repeat("x", 200), "日本"} {
		k := d.key(id)
		if strings.Contains(k, "..") || strings.Count(k, "/") != 2 {
			t.Errorf("id %q gives key %q", id, k)
		}
		if err := d.record(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if ok, _ := d.acknowledged(context.Background(), id); !ok {
			t.Errorf("id %q not found again", id)
		}
	}
}

func TestDedupStoreErrorsAndLock(t *testing.T) {
	ms := newMemStorage()
	d := &dedupStore{storage: ms, scope: "s", now: time.Now}
	ms.failOps["load"] = errors.New("storage down")
	if ok, err := d.acknowledged(context.Background(), "EV-1"); ok || err == nil {
		t.Errorf("load failure: %v %v", ok, err)
	}
	delete(ms.failOps, "load")

	unlock, err := d.lock(context.Background(), "EV-1")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := d.lock(context.Background(), "EV-1")
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
	unlock, _ = d.lock(context.Background(), "EV-2")
	defer unlock()
	if u, err := d.lock(ctx, "EV-2"); err == nil {
		t.Error("lock of a held id with a dead context succeeded")
	} else {
		u() // a no-op, never nil
	}
}

package bill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/storagesweep"
)

// Storage is the part of Caddy's storage (certmagic.Storage) the records
// use. Load must return an error wrapping fs.ErrNotExist for a missing key.
type Storage interface {
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, recursive bool) ([]string, error)
}

// StoragePrefix starts every storage key of the records.
const StoragePrefix = "wechatpay_bills"

// Store keeps the records in memory and, when it has one, in a storage that
// other instances of a cluster share, so that a download may reach another
// instance than the list call did. Records are found by their key; an
// expired record counts as absent.
type Store struct {
	storage Storage // nil: memory only
	scope   string  // keeps merchants apart in the storage
	now     func() time.Time

	mu        sync.Mutex
	mem       map[string]Record
	lastSweep time.Time
}

// NewStore returns a store over storage (nil for memory only) for one
// merchant, named by scope.
func NewStore(storage Storage, scope string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{storage: storage, scope: scope, now: now, mem: map[string]Record{}}
}

func (s *Store) dir() string {
	sum := sha256.Sum256([]byte(s.scope))
	return path.Join(StoragePrefix, hex.EncodeToString(sum[:8]))
}

// storageKey names a record in the storage by a hash of its key: the key
// holds the download token, which no file name or listing shows.
func (s *Store) storageKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return path.Join(s.dir(), hex.EncodeToString(sum[:]))
}

// Put remembers records, in memory and then in the storage; the error is
// the storage's (the records are in memory whatever it says).
func (s *Store) Put(ctx context.Context, records []Record) error {
	now := s.now()
	s.mu.Lock()
	for k, r := range s.mem {
		if !r.Valid(now) {
			delete(s.mem, k)
		}
	}
	for _, r := range records {
		s.mem[r.Key] = r
	}
	s.mu.Unlock()
	if s.storage == nil {
		return nil
	}
	var errs []error
	for _, r := range records {
		raw, err := json.Marshal(r)
		if err == nil {
			err = s.storage.Store(ctx, s.storageKey(r.Key), raw)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Get returns the valid record of key: from memory, else from the storage.
// found is false for none (or an expired one); err is set only when the
// storage itself failed.
func (s *Store) Get(ctx context.Context, key string) (rec Record, found bool, err error) {
	now := s.now()
	s.mu.Lock()
	rec, ok := s.mem[key]
	s.mu.Unlock()
	if ok {
		return rec, rec.Valid(now), nil
	}
	if s.storage == nil {
		return Record{}, false, nil
	}
	raw, err := s.storage.Load(ctx, s.storageKey(key))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	if json.Unmarshal(raw, &rec) != nil || rec.Key != key {
		return Record{}, false, nil
	}
	if !rec.Valid(now) {
		_ = s.storage.Delete(ctx, s.storageKey(key))
		return Record{}, false, nil
	}
	return rec, true, nil
}

// SweepDue reports, at most once per every, that a sweep is due.
func (s *Store) SweepDue(every time.Duration) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) < every {
		return false
	}
	s.lastSweep = now
	return true
}

// Scope is the merchant the store keeps records for.
func (s *Store) Scope() string { return s.scope }

// Sweep deletes the expired (and unreadable) records of this store's scope
// from the storage and returns how many it deleted.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if s.storage == nil {
		return 0, nil
	}
	now := s.now()
	return storagesweep.Sweep(ctx, s.storage, s.dir(), func(raw []byte) bool {
		var rec Record
		return json.Unmarshal(raw, &rec) == nil && rec.Valid(now)
	})
}

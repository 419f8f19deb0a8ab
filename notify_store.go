package wechatpay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"time"
)

// dedupTTL is how long an acknowledged notification id is remembered.
// WeChat Pay resends an unacknowledged notification up to 15 times over
// about 24 hours; 48 hours covers that with room to spare.
const dedupTTL = 48 * time.Hour

// dedupLockWait bounds how long a delivery waits for another delivery of the
// same id (holding the lock) to finish before it goes ahead without the lock.
const dedupLockWait = 15 * time.Second

// dedupPrefix starts every storage key of the dedup records.
const dedupPrefix = "wechatpay_notify"

// notifyStorage is the part of certmagic.Storage (what caddy.Context.Storage
// returns) the dedup records use. Load must return an error wrapping
// fs.ErrNotExist for a missing key, as certmagic requires of every storage.
type notifyStorage interface {
	Lock(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, path string, recursive bool) ([]string, error)
}

// dedupStore remembers, in Caddy's storage, the notification ids the app
// has acknowledged, so that several Caddy instances sharing a storage agree.
// A record is the storage key wechatpay_notify/<scope>/<id> holding
// {"id":..., "acknowledged_at":..., "expires_at":...}; an expired record
// counts as absent and is deleted by sweep.
type dedupStore struct {
	storage notifyStorage
	scope   string // a storage-safe name for the merchant's key set
	now     func() time.Time
}

// dedupRecord is the stored value. It holds no part of the notification
// but its id.
type dedupRecord struct {
	ID             string    `json:"id"`
	AcknowledgedAt time.Time `json:"acknowledged_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// safeSegment matches ids used as they are in a storage key; any other id
// (WeChat Pay's look like EV-2018022511223320873) is hashed, so that no id
// can form a path such as ../x, whatever the storage module does with it.
var safeSegment = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// storageSegment returns s when it is safe as one storage key segment, else
// its SHA-256 in hex behind "sha256-".
func storageSegment(s string) string {
	if safeSegment.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + hex.EncodeToString(sum[:])
}

func (d *dedupStore) dir() string { return path.Join(dedupPrefix, storageSegment(d.scope)) }

func (d *dedupStore) key(id string) string { return path.Join(d.dir(), storageSegment(id)) }

// lock takes the storage lock of id, so that two deliveries of one
// notification at once (a resend while the app is still busy with the first,
// possibly on another instance) are forwarded one after the other, and the
// second sees the first's record. It waits at most dedupLockWait; unlock is
// never nil.
func (d *dedupStore) lock(ctx context.Context, id string) (unlock func(), err error) {
	name := d.key(id)
	lctx, cancel := context.WithTimeout(ctx, dedupLockWait)
	defer cancel()
	if err := d.storage.Lock(lctx, name); err != nil {
		return func() {}, err
	}
	return func() {
		// The request's context may be gone by now; the lock must go anyway.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.storage.Unlock(uctx, name)
	}, nil
}

// acknowledged reports whether the app acknowledged id less than dedupTTL
// ago. A missing, expired or unreadable record is false; err is set only
// when the storage itself failed.
func (d *dedupStore) acknowledged(ctx context.Context, id string) (bool, error) {
	raw, err := d.storage.Load(ctx, d.key(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rec dedupRecord
	if json.Unmarshal(raw, &rec) != nil || rec.ID != id {
		return false, nil // not ours, or a hashed id of another notification
	}
	return d.now().Before(rec.ExpiresAt), nil
}

// record remembers that the app acknowledged id.
func (d *dedupStore) record(ctx context.Context, id string) error {
	now := d.now()
	raw, err := json.Marshal(dedupRecord{ID: id, AcknowledgedAt: now.UTC(), ExpiresAt: now.Add(dedupTTL).UTC()})
	if err != nil {
		return err
	}
	return d.storage.Store(ctx, d.key(id), raw)
}

// sweep deletes the expired (and unreadable) records of this scope and
// returns how many it deleted.
func (d *dedupStore) sweep(ctx context.Context) (int, error) {
	keys, err := d.storage.List(ctx, d.dir(), false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	now := d.now()
	removed := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		raw, err := d.storage.Load(ctx, k)
		if err != nil {
			continue // a directory, or gone meanwhile
		}
		var rec dedupRecord
		if json.Unmarshal(raw, &rec) == nil && now.Before(rec.ExpiresAt) {
			continue
		}
		if d.storage.Delete(ctx, k) == nil {
			removed++
		}
	}
	return removed, nil
}

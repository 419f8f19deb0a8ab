// Package dedup remembers, in a Caddy-style storage, the callback ids an app
// acknowledged, so that a resend of an acknowledged WeChat Pay callback is
// answered without the app, across the instances that share the storage. It
// imports neither Caddy nor zap: the storage is the part of
// certmagic.Storage it uses.
package dedup

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

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/storagesweep"
)

// TTL is how long an acknowledged id is remembered. WeChat Pay resends an
// unacknowledged callback up to 15 times over about 24 hours; 48 hours
// covers that with room to spare.
const TTL = 48 * time.Hour

// LockWait bounds how long a delivery waits for another delivery of the
// same id (holding the lock) to finish before it goes ahead without the lock.
const LockWait = 15 * time.Second

// Prefix starts every storage key of the records.
const Prefix = "wechatpay_notify"

// Storage is the part of certmagic.Storage (what caddy.Context.Storage
// returns) the records use. Load must return an error wrapping
// fs.ErrNotExist for a missing key, as certmagic requires of every storage.
type Storage interface {
	Lock(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, path string, recursive bool) ([]string, error)
}

// Store keeps the records of one scope. A record is the storage key
// wechatpay_notify/<scope>/<id> holding {"id":..., "acknowledged_at":...,
// "expires_at":...}; an expired record counts as absent and is deleted by
// Sweep.
type Store struct {
	Storage Storage
	Scope   string           // a storage-safe name for the merchant's key set
	Now     func() time.Time // time.Now; tests move it
}

// record is the stored value. It holds no part of the callback but its id.
type record struct {
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

func (d *Store) dir() string { return path.Join(Prefix, storageSegment(d.Scope)) }

func (d *Store) key(id string) string { return path.Join(d.dir(), storageSegment(id)) }

// Lock takes the storage lock of id, so that two deliveries of one callback
// at once (a resend while the app is still busy with the first, possibly on
// another instance) are forwarded one after the other, and the second sees
// the first's record. It waits at most LockWait; unlock is never nil.
func (d *Store) Lock(ctx context.Context, id string) (unlock func(), err error) {
	name := d.key(id)
	lctx, cancel := context.WithTimeout(ctx, LockWait)
	defer cancel()
	if err := d.Storage.Lock(lctx, name); err != nil {
		return func() {}, err
	}
	return func() {
		// The request's context may be gone by now; the lock must go anyway.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Storage.Unlock(uctx, name)
	}, nil
}

// Acknowledged reports whether the app acknowledged id less than TTL ago. A
// missing, expired or unreadable record is false; err is set only when the
// storage itself failed.
func (d *Store) Acknowledged(ctx context.Context, id string) (bool, error) {
	raw, err := d.Storage.Load(ctx, d.key(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rec record
	if json.Unmarshal(raw, &rec) != nil || rec.ID != id {
		return false, nil // not ours, or a hashed id of another callback
	}
	return d.Now().Before(rec.ExpiresAt), nil
}

// Record remembers that the app acknowledged id.
func (d *Store) Record(ctx context.Context, id string) error {
	now := d.Now()
	raw, err := json.Marshal(record{ID: id, AcknowledgedAt: now.UTC(), ExpiresAt: now.Add(TTL).UTC()})
	if err != nil {
		return err
	}
	return d.Storage.Store(ctx, d.key(id), raw)
}

// Sweep deletes the expired (and unreadable) records of the scope and
// returns how many it deleted.
func (d *Store) Sweep(ctx context.Context) (int, error) {
	now := d.Now()
	return storagesweep.Sweep(ctx, d.Storage, d.dir(), func(raw []byte) bool {
		var rec record
		return json.Unmarshal(raw, &rec) == nil && now.Before(rec.ExpiresAt)
	})
}

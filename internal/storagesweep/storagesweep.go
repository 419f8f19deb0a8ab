// Package storagesweep deletes expired records from a folder of Caddy's
// storage: the callback ids wechatpay_notify acknowledged and the bill
// download records share the way they are swept.
package storagesweep

import (
	"context"
	"errors"
	"io/fs"
)

// Storage is the part of Caddy's storage a sweep uses.
type Storage interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, path string, recursive bool) ([]string, error)
}

// Sweep deletes each record directly in dir that keep does not want kept
// (keep is given the record's bytes: an expired or unreadable record is
// not kept) and returns how many it deleted. A dir that does not exist
// has nothing to sweep; a key that cannot be loaded (a folder, or gone
// meanwhile) is left alone. It stops when ctx ends.
func Sweep(ctx context.Context, storage Storage, dir string, keep func(raw []byte) bool) (int, error) {
	keys, err := storage.List(ctx, dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		raw, err := storage.Load(ctx, k)
		if err != nil || keep(raw) {
			continue
		}
		if storage.Delete(ctx, k) == nil {
			removed++
		}
	}
	return removed, nil
}

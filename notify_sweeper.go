package wechatpay

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/dedup"
)

// sweepers are the dedup sweepers running: one per configuration and dedup
// scope, however many wechatpay_notify handlers (routes) share the scope.
var sweepers = struct {
	sync.Mutex
	running map[sweeperKey]bool
}{running: map[sweeperKey]bool{}}

// sweeperKey names a sweeper: the context of its configuration (the one
// Caddy gives every module of it, cancelled when the configuration stops)
// and the dedup scope.
type sweeperKey struct {
	config context.Context
	scope  string
}

// startSweeper starts the sweeper of store's scope for the configuration
// whose context is config, unless one runs already; it stops when Caddy
// cancels config. It reports whether it started one.
func startSweeper(config context.Context, store *dedup.Store, logger *zap.Logger) bool {
	key := sweeperKey{config, store.Scope}
	sweepers.Lock()
	defer sweepers.Unlock()
	if sweepers.running[key] || config.Err() != nil {
		return false
	}
	sweepers.running[key] = true
	go func() {
		sweepLoop(config, store, logger)
		sweepers.Lock()
		delete(sweepers.running, key)
		sweepers.Unlock()
	}()
	return true
}

// sweepLoop deletes expired dedup records a minute after start, then
// hourly, until ctx ends.
func sweepLoop(ctx context.Context, store *dedup.Store, logger *zap.Logger) {
	wait := time.Minute
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = time.Hour
		if n, err := store.Sweep(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("deleting expired notification records failed", zap.Error(err))
		} else if n > 0 {
			logger.Debug("deleted expired notification records", zap.Int("count", n))
		}
	}
}

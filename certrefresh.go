package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Refresh timing. WeChat Pay asks merchants to refresh platform
// certificates at least every 12 hours; the official Go SDK does it every
// 24. A failed attempt is retried after firstRetry, doubling up to the
// refresh interval, so that an outage never turns into a request storm.
const (
	// defaultRefreshInterval is how often platform certificates are
	// downloaded again.
	defaultRefreshInterval = 6 * time.Hour
	firstRetry             = time.Minute
	downloadTimeout        = 30 * time.Second
)

// refreshResult says what a refresh did.
type refreshResult int

const (
	refreshAdopted    refreshResult = iota // took a fresh set from storage
	refreshDownloaded                      // downloaded and stored
	refreshNotFound                        // WeChat Pay has none (public key only)
)

// certManager keeps one merchant's downloaded platform certificates: it
// loads them from storage, downloads them when the stored set is older than
// the interval (holding the storage lock, so that one instance of a cluster
// downloads per period), and publishes the set to the merchant.
type certManager struct {
	mchid    string
	macKey   []byte // authenticates the stored set (derived from the APIv3 key); guarded by mu
	storage  certmagic.Storage
	interval time.Duration
	now      func() time.Time
	logger   *zap.Logger
	download func(ctx context.Context, known []*platformcert.Certificate) ([]*platformcert.Certificate, error)
	publish  func([]*platformcert.Certificate)

	// publicKey is set when the merchant has a configured WeChat Pay key,
	// so that WeChat Pay's "no certificate" is the normal case.
	publicKey bool
	// startFailed is set when the refresh at start failed, so that the
	// worker retries after firstRetry rather than a whole interval.
	startFailed bool

	mu            sync.Mutex
	current       []*platformcert.Certificate
	notFoundSaid  bool
	lastErrorSaid string

	// For the metrics: the downloads counter, and when WeChat Pay last
	// answered a download (this instance's, or the stored set's), guarded
	// by mu.
	metrics *merchantMetrics
	checked time.Time
}

// noteChecked records that WeChat Pay answered a download at t.
func (c *certManager) noteChecked(t time.Time) {
	c.mu.Lock()
	if t.After(c.checked) {
		c.checked = t
	}
	c.mu.Unlock()
}

// lastChecked returns when WeChat Pay last answered a download; the zero
// time if never, as far as this instance knows.
func (c *certManager) lastChecked() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

// certificates returns the set in use, newest first.
func (c *certManager) certificates() []*platformcert.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// adopt publishes certs, without the expired ones.
func (c *certManager) adopt(certs []*platformcert.Certificate) {
	certs = platformcert.Merge(c.now(), nil, certs)
	c.mu.Lock()
	c.current = certs
	c.mu.Unlock()
	c.publish(certs)
}

// refresh brings the set up to date. Unless force is set, a stored set
// checked less than an interval ago is adopted as it is. On error the
// stored (or current) unexpired certificates stay in use.
func (c *certManager) refresh(ctx context.Context, force bool) (refreshResult, error) {
	doc, stored, err := certstore.Load(ctx, c.storage, c.mchid, c.storageKey(), c.now())
	if err != nil {
		c.logger.Warn("platform certificates in storage are unusable; downloading again", zap.Error(err))
	}
	if doc != nil {
		c.adopt(platformcert.Merge(c.now(), c.certificates(), stored))
		c.noteChecked(doc.CheckedAt)
		if !force && c.fresh(doc) {
			return c.adoptedResult(doc), nil
		}
	}

	if err := c.storage.Lock(ctx, certstore.LockName(c.mchid)); err != nil {
		return 0, err
	}
	defer func() {
		if err := c.storage.Unlock(context.WithoutCancel(ctx), certstore.LockName(c.mchid)); err != nil {
			c.logger.Warn("unlocking platform certificates in storage", zap.Error(err))
		}
	}()
	// Another instance may have downloaded while this one waited.
	if doc, stored, err = certstore.Load(ctx, c.storage, c.mchid, c.storageKey(), c.now()); err == nil && doc != nil {
		c.adopt(platformcert.Merge(c.now(), c.certificates(), stored))
		c.noteChecked(doc.CheckedAt)
		if !force && c.fresh(doc) {
			return c.adoptedResult(doc), nil
		}
	}

	known := c.certificates()
	dctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	downloaded, err := c.download(dctx, known)
	cancel()
	notFound := errors.Is(err, platformcert.ErrNotFound)
	c.metrics.download(err, notFound)
	if err != nil && !notFound {
		return 0, err
	}
	merged := platformcert.Merge(c.now(), known, downloaded)
	checked := c.now()
	c.noteChecked(checked)
	if err := certstore.Save(ctx, c.storage, c.mchid, c.storageKey(), checked, notFound, merged); err != nil {
		c.logger.Warn("platform certificates downloaded but not stored", zap.Error(err))
	}
	c.adopt(merged)
	if notFound {
		c.sayNotFound()
		return refreshNotFound, nil
	}
	c.logger.Info("platform certificates downloaded", zap.Strings("serials", serials(merged)),
		zap.String("storage", storageLocation(c.storage, certstore.Key(c.mchid))))
	return refreshDownloaded, nil
}

// fresh reports whether a stored set can be used as it is: checked less
// than an interval ago, and either WeChat Pay's "none" or at least one
// certificate still in use (a set emptied by expiry is asked for again).
func (c *certManager) fresh(doc *certstore.Document) bool {
	age := c.now().Sub(doc.CheckedAt)
	return age >= 0 && age < c.interval && (doc.NotFound || len(c.certificates()) > 0)
}

func (c *certManager) adoptedResult(doc *certstore.Document) refreshResult {
	if doc.NotFound {
		c.sayNotFound()
		return refreshNotFound
	}
	return refreshAdopted
}

// sayNotFound logs, once per merchant and config, that WeChat Pay has no
// platform certificate for it: a normal state, not an error.
func (c *certManager) sayNotFound() {
	c.mu.Lock()
	said := c.notFoundSaid
	c.notFoundSaid = true
	c.mu.Unlock()
	switch {
	case said:
	case c.publicKey:
		c.logger.Info("WeChat Pay has no platform certificate for this merchant (404 RESOURCE_NOT_EXISTS): it uses the WeChat Pay public key; asking again every refresh interval")
	default:
		c.logger.Warn("WeChat Pay has no platform certificate for this merchant (404 RESOURCE_NOT_EXISTS) and no public key is configured: answers will stop verifying when the certificates kept expire; configure public_key_id and public_key")
	}
}

// run refreshes every interval (with jitter) until ctx ends. After a
// failure it retries with exponential backoff, up to the interval.
func (c *certManager) run(ctx context.Context) {
	failures := 0
	if c.startFailed {
		failures = 1
	}
	for {
		wait := jitter(c.interval)
		if failures > 0 {
			wait = jitter(retryDelay(failures, c.interval))
		}
		// Wake up when a certificate expires, to stop trusting it.
		for _, cert := range c.certificates() {
			if until := cert.NotAfter().Sub(c.now()) + time.Second; until > 0 && until < wait {
				wait = until
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := c.refresh(ctx, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			c.adopt(c.certificates()) // drop expired ones all the same
			c.logFailure(err, failures)
			continue
		}
		failures = 0
	}
}

// logFailure logs a failed refresh: a warning the first time an error is
// seen, debug while the same error repeats.
func (c *certManager) logFailure(err error, failures int) {
	c.mu.Lock()
	repeat := c.lastErrorSaid == err.Error()
	c.lastErrorSaid = err.Error()
	inUse := len(c.current)
	c.mu.Unlock()
	level := c.logger.Warn
	if repeat {
		level = c.logger.Debug
	}
	level("downloading platform certificates failed; keeping the certificates in use",
		zap.Error(err), zap.Int("attempt", failures), zap.Int("certificates_in_use", inUse))
}

// retryDelay is the wait after the given number of failures in a row:
// firstRetry, doubling, at most the interval.
func retryDelay(failures int, interval time.Duration) time.Duration {
	return min(firstRetry<<min(failures-1, 20), interval)
}

// jitter returns d shortened by up to a tenth, at random, so that instances
// started together spread their downloads.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// serials lists the serials of certs.
func serials(certs []*platformcert.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = c.Serial
	}
	return out
}

// storageLocation describes where a key lives in storage, for people: the
// file path for the file system storage, else the storage and the key.
func storageLocation(storage certmagic.Storage, key string) string {
	if fsys, ok := storage.(*certmagic.FileStorage); ok {
		return fsys.Filename(key)
	}
	if s, ok := storage.(fmt.Stringer); ok {
		return s.String() + " key " + key
	}
	return fmt.Sprintf("%T key %s", storage, key)
}

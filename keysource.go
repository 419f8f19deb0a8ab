package wechatpay

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// keySource gives a handler the keys in use at each request: those of the
// wechatpay app's merchant it names, or keys of its own, which a key reload
// through the admin API replaces (the handler is then a key holder).
type keySource struct {
	keys func() *keySet // the keys in use now
	// started is closed once the merchant's certificates are brought in
	// at the app's Start; nil with keys of its own.
	started <-chan struct{}
	own     *atomic.Pointer[keySet] // a handler's own keys; nil with a merchant
	load    func() (*keySet, error) // loads the own keys again, for a key reload
}

// errNoMerchantKey answers a request while the merchant has no usable
// WeChat Pay key (every downloaded certificate expired, say).
var errNoMerchantKey = &apiError{status: http.StatusServiceUnavailable, code: codeProxyError,
	message: "no WeChat Pay key is available for this merchant yet"}

// useOwn loads the handler's own keys with load, now and at each key reload.
func (s *keySource) useOwn(load func() (*keySet, error)) error {
	keys, err := load()
	if err != nil {
		return err
	}
	s.own, s.load = new(atomic.Pointer[keySet]), load
	s.own.Store(keys)
	s.keys = s.own.Load
	return nil
}

// useMerchant takes the keys of the app's merchant name. Key options
// written in the handler as well (inline: option name, value) are an error:
// a merchant's keys live in one place.
func (s *keySource) useMerchant(ctx caddy.Context, name string, inline ...[2]string) (*Merchant, error) {
	if err := noInlineKeys(name, inline...); err != nil {
		return nil, err
	}
	m, err := lookupMerchant(ctx, name)
	if err != nil {
		return nil, err
	}
	s.keys = m.currentKeys
	s.started = m.started
	return m, nil
}

// awaitStart waits, while ctx lasts, until the merchant's platform
// certificates have been brought in at the app's Start (Caddy may start
// the servers first), then returns the keys in use. A request that comes
// in meanwhile is answered with the keys rather than 503.
func (s *keySource) awaitStart(ctx context.Context) *keySet {
	if s.started != nil {
		select {
		case <-s.started:
		case <-ctx.Done():
		}
	}
	return s.keys()
}

// currentKeys returns the keys in use now.
func (s *keySource) currentKeys() *keySet { return s.keys() }

// prepareReload loads the own keys again, changing nothing; the returned
// commit puts them in use. A merchant number that changed is refused, as a
// merchant's key reload refuses it: the handler's metrics and records are
// keyed by it.
func (s *keySource) prepareReload() (func(), error) {
	keys, err := s.load()
	if err != nil {
		return nil, err
	}
	if was, now := s.own.Load().signer, keys.signer; was != nil && now != nil && now.MchID != was.MchID {
		return nil, errMchIDChanged
	}
	return func() { s.own.Store(keys) }, nil
}

// errMchIDChanged refuses a key reload that would change the merchant
// number.
var errMchIDChanged = errors.New("mchid changed: a merchant number changes only with a configuration reload")

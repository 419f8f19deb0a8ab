package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `wechatpay` Caddy app: merchant credentials configured once,
// in the global options block, and shared by every wechatpay and
// wechatpay_notify handler that names a merchant. Like Caddy's tls app
// with certificates, it keeps each merchant's downloaded platform
// certificates in Caddy's storage and refreshes them in the background.
type App struct {
	// Merchants are the merchants by name; handlers refer to them with
	// `merchant <name>`.
	Merchants map[string]*Merchant `json:"merchants,omitempty"`

	logger *zap.Logger
	ctx    context.Context // the configuration's, which Caddy cancels when it stops
	cancel context.CancelFunc
	wg     *sync.WaitGroup // the refresh workers
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "wechatpay",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads every merchant's keys. It reads no storage and makes no
// network call (so `caddy validate` has no side effects): Start brings the
// platform certificates in.
func (a *App) Provision(ctx caddy.Context) error {
	metrics, err := a.provisionMetrics(ctx)
	if err != nil {
		return err
	}
	a.ctx = ctx
	if err := a.provision(ctx.Storage(), ctx.Logger()); err != nil {
		return err
	}
	metrics.watchApp(a)
	// The merchants' keys can be reloaded through the admin API while
	// this configuration runs.
	for _, m := range a.Merchants {
		registerKeyHolder(ctx, m)
	}
	return nil
}

// provision is Provision with the storage and logger given, for tests.
func (a *App) provision(storage certmagic.Storage, logger *zap.Logger) error {
	a.logger = logger
	for _, name := range a.names() {
		m := a.Merchants[name]
		if err := checkName(name); err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("merchant %s: no configuration", name)
		}
		if err := m.provision(name, storage, logger.With(zap.String("merchant", name))); err != nil {
			return fmt.Errorf("merchant %s: %w", name, err)
		}
	}
	return nil
}

// Start brings each merchant's downloaded platform certificates up to date
// (from storage, or from WeChat Pay), then refreshes them in the
// background until Stop. A merchant left without any WeChat Pay key does
// not stop Caddy: it is logged as an error, its handlers answer 503 and
// the refresh retries.
func (a *App) Start() error {
	parent := a.ctx
	if parent == nil {
		parent = context.Background() // a test's app, provisioned without Caddy
	}
	ctx, cancel := context.WithCancel(parent)
	a.cancel = cancel
	a.wg = new(sync.WaitGroup)
	for _, name := range a.names() {
		m := a.Merchants[name]
		if err := m.startCertificates(ctx); err != nil {
			m.logger.Error("this merchant has no WeChat Pay key: the handlers that name it answer 503 until a download succeeds", zap.Error(err))
		}
	}
	for _, name := range a.names() {
		if c := a.Merchants[name].certs; c != nil {
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				c.run(ctx)
			}()
		}
	}
	return nil
}

// Stop stops the background refreshes and waits for them to end.
func (a *App) Stop() error {
	if a.cancel != nil {
		a.cancel()
		a.wg.Wait()
	}
	return nil
}

// merchant returns the merchant of that name.
func (a *App) merchant(name string) (*Merchant, error) {
	if m := a.Merchants[name]; m != nil && m.currentKeys() != nil {
		return m, nil
	}
	known := a.names()
	if len(known) == 0 {
		return nil, fmt.Errorf("merchant %q: the wechatpay app defines no merchant", name)
	}
	return nil, fmt.Errorf("merchant %q is not defined in the wechatpay app (defined: %s)", name, strings.Join(known, ", "))
}

// names returns the merchant names, sorted.
func (a *App) names() []string {
	names := make([]string, 0, len(a.Merchants))
	for name := range a.Merchants {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// lookupMerchant returns the named merchant of the wechatpay app of ctx's
// configuration, for a handler's Provision.
func lookupMerchant(ctx caddy.Context, name string) (*Merchant, error) {
	app, err := ctx.AppIfConfigured("wechatpay")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil, fmt.Errorf("merchant %q: no wechatpay app is configured; define the merchant in the global options block (wechatpay { merchant %s { ... } })", name, name)
	}
	if err != nil {
		return nil, err
	}
	return app.(*App).merchant(name)
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)

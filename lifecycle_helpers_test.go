package wechatpay

import (
	"context"
	"errors"
	"fmt"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// startMerchant provisions m as the app's Provision does and brings its
// certificates in as the app's Start does; the error is the first of the
// two.
func startMerchant(ctx context.Context, m *Merchant, name string, storage certmagic.Storage, logger *zap.Logger) error {
	if err := m.provision(name, storage, logger); err != nil {
		return err
	}
	return m.startCertificates(ctx)
}

// startApp provisions a and brings every merchant's certificates in, as
// Provision and Start do, without Start's background refreshes; the error
// names each merchant left without a WeChat Pay key.
func startApp(ctx context.Context, a *App, storage certmagic.Storage, logger *zap.Logger) error {
	if err := a.provision(storage, logger); err != nil {
		return err
	}
	var errs []error
	for _, name := range a.names() {
		if err := a.Merchants[name].startCertificates(ctx); err != nil {
			errs = append(errs, fmt.Errorf("merchant %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

package wechatpay

import (
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

var reportBackendOnce sync.Once

// reportRSABackend logs, once per process, which code makes the merchant's
// RSA signatures: Go's crypto/rsa, or OpenSSL's libcrypto in a build with
// the openssl tag (./xcaddy.sh --openssl), which falls back to Go with a
// warning when libcrypto cannot be loaded.
func reportRSABackend(logger *zap.Logger) {
	reportBackendOnce.Do(func() {
		name, version, err := rsacrypto.Backend()
		if err != nil {
			logger.Warn("RSA signatures: OpenSSL is not used; Go's crypto/rsa signs",
				zap.String("backend", name), zap.String("version", version), zap.String("reason", err.Error()))
			return
		}
		logger.Info("RSA signatures", zap.String("backend", name), zap.String("version", version))
	})
}

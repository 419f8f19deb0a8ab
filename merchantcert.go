package wechatpay

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
)

// merchantCertificateWarning is how long before the merchant API
// certificate expires a warning is logged at start (and at each key
// reload): WeChat Pay refuses every request signed under an expired one.
const merchantCertificateWarning = 30 * 24 * time.Hour

// merchantCertificate is what the module keeps of the merchant API
// certificate (apiclient_cert.pem) when merchant_certificate names it: its
// serial and expiry, for the metrics. The module signs with the private
// key and names serial_no; the certificate itself never goes anywhere.
type merchantCertificate struct {
	serial   string // upper-case hex, as serial_no is sent
	notAfter time.Time
}

// loadMerchantCertificate resolves and checks merchant_certificate against
// the signer's key and serial; nil when the option is not set. The
// certificate must be an X.509 certificate whose public key is the private
// key's and whose serial is serial_no: a certificate of another key, or a
// serial_no that names another certificate, is a configuration error (WeChat
// Pay would refuse every request signed with it).
func (o keyOptions) loadMerchantCertificate(logger *zap.Logger, signer *apiv3.Signer) (*merchantCertificate, error) {
	text, err := resolvePlaceholder("merchant_certificate", o.merchantCert)
	if err != nil {
		return nil, err
	}
	if text == "" {
		if strings.Contains(o.merchantCert, "{") {
			return nil, fmt.Errorf("merchant_certificate %s resolved to nothing: is the environment variable or file there?", o.merchantCert)
		}
		return nil, nil
	}
	cert, serial, err := pemkey.LoadCertificate(text)
	if err != nil {
		return nil, fmt.Errorf("merchant_certificate: %w", err)
	}
	if !signer.Key.Public().Equal(cert.PublicKey) {
		return nil, fmt.Errorf("merchant_certificate: the certificate (serial %s) is not private_key's: its public key is another", serial)
	}
	// Compared as numbers: without regard to case, or to a leading zero
	// that one of the two spellings leaves out.
	want, ok := new(big.Int).SetString(signer.SerialNo, 16)
	if !ok || want.Cmp(cert.SerialNumber) != 0 {
		return nil, fmt.Errorf("merchant_certificate: its serial %s is not serial_no %s", serial, signer.SerialNo)
	}
	if left := time.Until(cert.NotAfter); left < merchantCertificateWarning {
		msg := "the merchant API certificate expires soon: renew it in the merchant platform, then reload the keys; WeChat Pay refuses requests signed under an expired certificate"
		if left <= 0 {
			msg = "the merchant API certificate has expired: WeChat Pay refuses every request signed under it; renew it in the merchant platform, then reload the keys"
		}
		logger.Warn(msg, zap.String("serial", signer.SerialNo), zap.Time("not_after", cert.NotAfter),
			zap.Duration("left", left.Truncate(time.Second)))
	}
	return &merchantCertificate{serial: signer.SerialNo, notAfter: cert.NotAfter}, nil
}

// merchantCertificate returns the merchant API certificate in use (a key
// reload replaces it), nil without merchant_certificate.
func (m *Merchant) merchantCertificate() *merchantCertificate {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.merchantCert
}

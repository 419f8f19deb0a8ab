package wechatpay

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// errNoMerchantKey answers a request while the merchant has no usable
// WeChat Pay key (every downloaded certificate expired, say).
var errNoMerchantKey = &apiError{status: http.StatusServiceUnavailable, code: codeProxyError,
	message: "no WeChat Pay key is available for this merchant yet"}

// useMerchant sets the handler up with the keys of the merchant it names.
// Key options written in the handler as well are an error: a merchant's
// keys live in one place.
func (h *Handler) useMerchant(ctx caddy.Context) error {
	var inline []string
	for _, o := range []struct{ name, v string }{
		{"mchid", h.MchID}, {"serial_no", h.SerialNo}, {"private_key", h.PrivateKey},
		{"public_key_id", h.PublicKeyID}, {"public_key", h.PublicKey},
		{"platform_certificate", strings.Join(h.PlatformCertificate, "")}, {"wechatpay_serial", h.WechatPaySerial},
	} {
		if o.v != "" {
			inline = append(inline, o.name)
		}
	}
	if len(inline) > 0 {
		return fmt.Errorf("merchant %q: %s belong in the merchant's block of the global wechatpay app; with merchant set, write no key options in the handler",
			h.Merchant, strings.Join(inline, ", "))
	}
	m, err := lookupMerchant(ctx, h.Merchant)
	if err != nil {
		return err
	}
	// The merchant's keys are checked; this checks the handler's own options.
	signer := m.currentSigner()
	if err := h.checkOptions(&credentials{mchid: signer.MchID, serialNo: signer.SerialNo, privateKey: "merchant"}); err != nil {
		return err
	}
	h.keys = m.currentKeys
	return nil
}

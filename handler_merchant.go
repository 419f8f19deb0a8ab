package wechatpay

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// errNoMerchantKey answers a request while the merchant has no usable
// WeChat Pay key (every downloaded certificate expired, say).
var errNoMerchantKey = &apiError{status: http.StatusServiceUnavailable, code: CodeProxyError,
	message: "no WeChat Pay key is available for this merchant yet"}

// merchantView is the handler as it serves with one state of its merchant's
// keys. It is rebuilt only when the app publishes new keys, so a request
// costs one atomic load and a comparison.
type merchantView struct {
	keys *merchantKeys
	h    *Handler
}

// useMerchant sets the handler up with the keys of the merchant it names
// and returns the merchant's private key. Key options written in the
// handler as well are an error: a merchant's keys live in one place.
func (h *Handler) useMerchant(ctx caddy.Context) (*rsa.PrivateKey, error) {
	var inline []string
	for _, o := range []struct{ name, v string }{
		{"mchid", h.MchID}, {"serial_no", h.SerialNo}, {"private_key", h.PrivateKey},
		{"public_key_id", h.PublicKeyID}, {"public_key", h.PublicKey},
		{"platform_certificate", strings.Join(h.PlatformCertificate, "")}, {"wechatpay_serial", h.WechatpaySerial},
	} {
		if o.v != "" {
			inline = append(inline, o.name)
		}
	}
	if len(inline) > 0 {
		return nil, fmt.Errorf("merchant %q: %s belong in the merchant's block of the global wechatpay app; with merchant set, write no key options in the handler",
			h.Merchant, strings.Join(inline, ", "))
	}
	m, err := lookupMerchant(ctx, h.Merchant)
	if err != nil {
		return nil, err
	}
	// The merchant's keys are checked; this checks the handler's own options.
	if err := h.checkOptions(&credentials{mchid: m.signer.MchID, serialNo: m.signer.SerialNo, privateKey: "merchant"}); err != nil {
		return nil, err
	}
	h.merchant = m
	h.view = new(atomic.Pointer[merchantView])
	h.signer = m.signer
	k := m.currentKeys()
	h.encrypter, h.serial, h.verifier = k.encrypter, k.serial, k.verifier
	if h.encrypter == nil {
		h.encrypter = &FieldEncrypter{} // Validate wants one; requests check the merchant's keys
	}
	return m.privateKey, nil
}

// withMerchantKeys returns the handler with its merchant's current keys, or
// nil when the merchant has no key that can encrypt.
func (h *Handler) withMerchantKeys() *Handler {
	k := h.merchant.currentKeys()
	if v := h.view.Load(); v != nil && v.keys == k {
		return v.h
	}
	if k.encrypter == nil {
		return nil
	}
	c := *h
	c.encrypter, c.serial, c.verifier = k.encrypter, k.serial, k.verifier
	c.merchant, c.view = nil, nil
	h.view.Store(&merchantView{keys: k, h: &c})
	return &c
}

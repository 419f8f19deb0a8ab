package wechatpay

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func handleKeys(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use GET", r.Method)}
	}
	return writeAdminJSON(w, currentKeyReports())
}

func handleKeysReload(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use POST", r.Method)}
	}
	logger := caddy.Log().Named("wechatpay")
	reports, err := reloadAllKeys()
	countKeyReload(err)
	if err != nil {
		logger.Error("reloading keys failed; the keys in use are unchanged", zap.Error(err))
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("reloading keys: %w", err)}
	}
	for _, rep := range reports {
		logger.Info("keys reloaded", zap.String("holder", rep.Holder), zap.Bool("changed", *rep.Changed),
			zap.String("serial_no", rep.SerialNo), zap.String("wechatpay_serial", rep.WechatPaySerial),
			zap.Strings("wechatpay_keys", rep.WechatPayKeys))
	}
	return writeAdminJSON(w, reports)
}

// keyHolder is something that loaded keys from the configuration and can
// load them again without a configuration reload: a merchant of the
// wechatpay app, or a handler with keys of its own.
type keyHolder interface {
	// holderName names it in admin answers and logs, e.g. "merchant acme".
	holderName() string
	// currentKeys returns the keys in use now.
	currentKeys() *keySet
	// prepareReload resolves and loads the keys again, changing nothing;
	// the returned commit puts them in use.
	prepareReload() (commit func(), err error)
}

// keyHolders are the key holders of every configuration that is running,
// the old and the new one while Caddy switches between them, each with the
// context of its configuration.
var keyHolders = struct {
	sync.Mutex
	set map[keyHolder]context.Context
}{set: map[keyHolder]context.Context{}}

// keyReloads serializes reloads, so that two never interleave.
var keyReloads sync.Mutex

// registerKeyHolder makes h's keys reloadable while ctx, its
// configuration's context, lasts. Caddy cancels that context before a
// configuration load returns; the holder is left out from that moment
// (context.AfterFunc removes it later, in a goroutine of its own).
func registerKeyHolder(ctx context.Context, h keyHolder) {
	keyHolders.Lock()
	keyHolders.set[h] = ctx
	keyHolders.Unlock()
	context.AfterFunc(ctx, func() { unregisterKeyHolder(h) })
}

func unregisterKeyHolder(h keyHolder) {
	keyHolders.Lock()
	defer keyHolders.Unlock()
	delete(keyHolders.set, h)
}

// registeredKeyHolders returns the holders of the configurations still
// running, ordered by name.
func registeredKeyHolders() []keyHolder {
	keyHolders.Lock()
	list := make([]keyHolder, 0, len(keyHolders.set))
	for h, ctx := range keyHolders.set {
		if ctx.Err() == nil {
			list = append(list, h)
		}
	}
	keyHolders.Unlock()
	slices.SortStableFunc(list, func(a, b keyHolder) int { return strings.Compare(a.holderName(), b.holderName()) })
	return list
}

// keysReport describes the keys one holder uses: identifiers only, which
// are public, never key material.
type keysReport struct {
	// Holder is "merchant <name>", or a handler with keys of its own.
	Holder string `json:"holder"`
	// MchID and SerialNo identify the merchant key that signs requests.
	MchID    string `json:"mchid,omitempty"`
	SerialNo string `json:"serial_no,omitempty"`
	// WechatPaySerial is the WeChat Pay key that encrypts (the
	// Wechatpay-Serial header).
	WechatPaySerial string `json:"wechatpay_serial,omitempty"`
	// MerchantCertificate is the merchant API certificate, when
	// merchant_certificate names it.
	MerchantCertificate *merchantCertificateReport `json:"merchant_certificate,omitempty"`
	// WechatPayKeys are all the WeChat Pay keys responses verify under.
	WechatPayKeys []string `json:"wechatpay_keys"`
	// Changed tells, in the response to a reload, whether any key changed.
	Changed *bool `json:"changed,omitempty"`
}

// merchantCertificateReport is the merchant API certificate in a
// keysReport: its serial (serial_no's) and when it expires.
type merchantCertificateReport struct {
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
}

func reportKeys(name string, k *keySet) keysReport {
	r := keysReport{Holder: name, WechatPaySerial: k.serial, WechatPayKeys: make([]string, 0, len(k.byID))}
	if k.signer != nil {
		r.MchID, r.SerialNo = k.signer.MchID, k.signer.SerialNo
	}
	if mc := k.merchantCert; mc != nil {
		r.MerchantCertificate = &merchantCertificateReport{Serial: mc.serial, NotAfter: mc.notAfter}
	}
	for id := range k.byID {
		r.WechatPayKeys = append(r.WechatPayKeys, id)
	}
	slices.Sort(r.WechatPayKeys)
	return r
}

// currentKeyReports describes the keys every holder uses now.
func currentKeyReports() []keysReport {
	holders := registeredKeyHolders()
	out := make([]keysReport, 0, len(holders))
	for _, h := range holders {
		out = append(out, reportKeys(h.holderName(), h.currentKeys()))
	}
	return out
}

// reloadAllKeys loads the keys of every holder again from the
// configuration's sources (key files, {file./path}) and puts them
// in use all together, or, if any fails, changes nothing. Requests in
// flight finish with the keys they started with; the next ones use the new
// keys. No server restarts, so no connection is closed.
func reloadAllKeys() ([]keysReport, error) {
	keyReloads.Lock()
	defer keyReloads.Unlock()
	holders := registeredKeyHolders()
	commits := make([]func(), len(holders))
	var errs []error
	for i, h := range holders {
		commit, err := h.prepareReload()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.holderName(), err))
			continue
		}
		commits[i] = commit
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w; no key was changed", errors.Join(errs...))
	}
	out := make([]keysReport, 0, len(holders))
	for i, h := range holders {
		before := h.currentKeys()
		commits[i]()
		after := h.currentKeys()
		r := reportKeys(h.holderName(), after)
		changed := !sameKeys(before, after)
		r.Changed = &changed
		out = append(out, r)
	}
	return out, nil
}

// sameKeys reports whether two key sets hold the same keys in the same
// roles.
func sameKeys(a, b *keySet) bool {
	if a.serial != b.serial || len(a.byID) != len(b.byID) || (a.signer == nil) != (b.signer == nil) ||
		subtle.ConstantTimeCompare(a.apiv3Key, b.apiv3Key) != 1 || subtle.ConstantTimeCompare(a.apiv2Key, b.apiv2Key) != 1 {
		return false
	}
	if a.signer != nil && (a.signer.MchID != b.signer.MchID || a.signer.SerialNo != b.signer.SerialNo ||
		!a.signer.Key.Public().Equal(b.signer.Key.Public())) {
		return false
	}
	for id, key := range a.byID {
		if other := b.byID[id]; other == nil || !key.Equal(other) {
			return false
		}
	}
	return true
}

var (
	_ keyHolder = (*Handler)(nil)
	_ keyHolder = (*NotifyHandler)(nil)
	_ keyHolder = (*Merchant)(nil)
)

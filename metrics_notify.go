package wechatpay

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
)

// notifyMetrics records the callbacks of one wechatpay_notify handler; its
// methods do nothing on nil.
type notifyMetrics struct {
	callbacks *prometheus.CounterVec // event_type, outcome
}

// provisionMetrics sets up the handler's metrics. The merchant label is the
// app merchant's name; a handler with keys of its own has no merchant
// number, so its label is scope, the ID or serial of its first WeChat Pay
// key (which also keeps its acknowledged-callback records apart).
func (h *NotifyHandler) provisionMetrics(ctx caddy.Context, scope string) error {
	set, err := metricsOf(ctx)
	if err != nil || set == nil {
		return err
	}
	merchant := h.Merchant
	if h.own != nil {
		merchant = scope
		set.state.addOwnKeys(merchant, h.currentKeys, true)
	}
	h.metrics = &notifyMetrics{callbacks: set.callbacks.MustCurryWith(prometheus.Labels{"merchant": merchant})}
	h.metrics.start()
	return nil
}

// callback counts a callback: eventType is that of a verified, decrypted
// callback, else empty.
func (m *notifyMetrics) callback(eventType, outcome string) {
	if m == nil {
		return
	}
	m.callbacks.WithLabelValues(metriclabels.EventType(eventType), outcomes.Label(outcome)).Inc()
}

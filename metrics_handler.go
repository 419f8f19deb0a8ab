package wechatpay

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/catalog"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
)

// handlerMetrics records the requests of one wechatpay handler. Its label
// sets are curried with the handler's merchant at Provision, so that a
// request costs a few lookups under the label sets' read locks and no
// allocation once a series exists (BenchmarkHandlerMetrics). Its methods do
// nothing on nil.
type handlerMetrics struct {
	endpoints      *catalog.TemplateIndex
	requests       *prometheus.CounterVec // method, endpoint, outcome
	module         prometheus.Observer
	upstream       prometheus.Observer
	encrypted      prometheus.Counter
	verifyFailures *prometheus.CounterVec // code
	refusals       *prometheus.CounterVec // class, code
}

// provisionMetrics sets up the handler's metrics; the merchant label is the
// app merchant's name, or the mchid of the handler's own keys.
func (h *Handler) provisionMetrics(ctx caddy.Context) error {
	set, err := metricsOf(ctx)
	if err != nil || set == nil {
		return err
	}
	merchant := h.Merchant
	if h.own != nil {
		merchant = h.currentKeys().signer.MchID
		set.state.addOwnKeys(merchant, h.currentKeys, false)
	}
	endpoints := catalog.EndpointIndex()
	if len(h.Encrypt) > 0 {
		extra := make([]catalog.Template, len(h.Encrypt))
		for i, rule := range h.Encrypt {
			extra[i] = catalog.Template{Method: rule.Method, Path: rule.Path}
		}
		if endpoints, err = endpoints.WithTemplates(extra); err != nil {
			return fmt.Errorf("encrypt: %w", err)
		}
	}
	labels := prometheus.Labels{"merchant": merchant}
	m := &handlerMetrics{
		endpoints:      endpoints,
		requests:       set.requests.MustCurryWith(labels),
		module:         set.moduleDuration.With(labels),
		upstream:       set.upstreamDuration.With(labels),
		encrypted:      set.encryptedFields.With(labels),
		verifyFailures: set.verifyFailures.MustCurryWith(labels),
		refusals:       set.refusals.MustCurryWith(labels),
	}
	if h.verifying() && h.perMerchant == nil { // a request no merchant answers is verified by none
		for _, code := range metriclabels.VerifyCodes {
			m.verifyFailures.WithLabelValues(code)
		}
		startRefusals(m.refusals)
	}
	h.metrics = m
	return nil
}

// request counts a request with its outcome: metriclabels.Verified,
// metriclabels.Unverified or the code the client was answered with.
func (m *handlerMetrics) request(r *http.Request, outcome string) {
	if m == nil {
		return
	}
	endpoint := m.endpoints.Match(r.Method, r.URL.Path)
	if endpoint == "" {
		endpoint = metriclabels.Other
	}
	m.requests.WithLabelValues(metriclabels.Method(r.Method), endpoint, outcomes.Label(outcome)).Inc()
}

// upstreamTimer adds up the time a request spends in the next handler:
// reverse_proxy, waiting for WeChat Pay.
type upstreamTimer struct {
	d      time.Duration
	called bool
}

// stop adds the time since began.
func (u *upstreamTimer) stop(began time.Time) {
	u.d += time.Since(began)
	u.called = true
}

// durations observes a request that began at start: the upstream stage if
// it went upstream, and the module stage, the rest.
func (m *handlerMetrics) durations(start time.Time, upstream *upstreamTimer) {
	if m == nil {
		return
	}
	own := time.Since(start)
	if upstream.called {
		m.upstream.Observe(upstream.d.Seconds())
		own -= upstream.d
	}
	m.module.Observe(own.Seconds())
}

// fields counts encrypted values.
func (m *handlerMetrics) fields(n int) {
	if m == nil || n == 0 {
		return
	}
	m.encrypted.Add(float64(n))
}

// verifyFailed counts an answer that failed verification with code.
func (m *handlerMetrics) verifyFailed(code string) {
	if m == nil {
		return
	}
	m.verifyFailures.WithLabelValues(outcomes.Label(code)).Inc()
}

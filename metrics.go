package wechatpay

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/catalog"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
)

// The module's metrics, in Caddy's own registry: they appear wherever
// Caddy serves metrics (the admin endpoint's /metrics, the metrics
// handler), all named caddy_wechatpay_*. docs/metrics.md lists them.
//
// Registration. Caddy gives each loaded configuration a registry of its
// own. The counters and histograms are made afresh for each
// configuration's registry (metricsOf), as Caddy's own caddy_http_* are:
// after a reload they restart from zero, which rate() and increase() take
// as a counter reset, and the series of a merchant, handler or encrypt rule
// that the new configuration no longer has are gone with the old registry
// instead of lasting as long as the process. The gauges of live state
// (certificate expiry, last download) are read from the configuration's
// merchants and handlers at each scrape by one collector per registry
// (stateCollector), so they describe the running configuration alone. Only
// caddy_wechatpay_key_reloads_total and the replay window's gauges are
// process-wide, as the admin API and the window they describe outlive
// configurations: one collector registered in every configuration's
// registry. A key reload changes keys, never a
// registration.

const (
	metricsNamespace = "caddy"
	metricsSubsystem = "wechatpay"
)

// The buckets of caddy_wechatpay_request_duration_seconds, by stage. A
// histogram vector has one set of buckets, and the two stages live at
// scales three orders of magnitude apart: the module's own work (read,
// encrypt, sign, verify, decrypt: RSA operations of tens of µs to a few
// ms) and the wait for WeChat Pay (tens of ms to its 30 s timeout). So each
// stage is a histogram of its own under the one name, its stage a constant
// label: two series of one family, each with buckets where its values lie.
// Aggregate them by (le, stage), never across stages.
var (
	moduleBuckets   = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}
	upstreamBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// keyReloadsTotal counts the key reloads of the admin API, for the whole
// process: the admin API outlives configurations.
var keyReloadsTotal = func() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "key_reloads_total",
		Help: "Key reloads through the admin API (POST /wechatpay/keys/reload), by outcome: ok, or failed (no key changed).",
	}, []string{"outcome"})
	c.WithLabelValues(metriclabels.ReloadOK)
	c.WithLabelValues(metriclabels.ReloadFailed)
	return c
}()

// countKeyReload counts a key reload that ended with err.
func countKeyReload(err error) {
	if err != nil {
		keyReloadsTotal.WithLabelValues(metriclabels.ReloadFailed).Inc()
		return
	}
	keyReloadsTotal.WithLabelValues(metriclabels.ReloadOK).Inc()
}

// metricSet is the module's collectors in one configuration's registry.
type metricSet struct {
	requests         *prometheus.CounterVec   // merchant, method, endpoint, outcome
	moduleDuration   *prometheus.HistogramVec // merchant; stage="module"
	upstreamDuration *prometheus.HistogramVec // merchant; stage="upstream"
	encryptedFields  *prometheus.CounterVec   // merchant
	verifyFailures   *prometheus.CounterVec   // merchant, code
	callbacks        *prometheus.CounterVec   // merchant, event_type, outcome
	downloads        *prometheus.CounterVec   // merchant, outcome
	refusals         *prometheus.CounterVec   // merchant, class, code (metrics_refusals.go)
	state            *stateCollector
}

func newMetricSet() *metricSet {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help,
		}, labels)
	}
	duration := func(stage string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "request_duration_seconds",
			Help: "Time a wechatpay handler spends on a request, by stage: module (reading, encrypting, signing, " +
				"verifying, decrypting: the proxy's own cost) and upstream (waiting for WeChat Pay). " +
				"Each stage has its own buckets: aggregate by (le, stage).",
			ConstLabels: prometheus.Labels{"stage": stage},
			Buckets:     buckets,
		}, []string{"merchant"})
	}
	return &metricSet{
		requests: counter("requests_total",
			"Requests through a wechatpay handler, by merchant, method, endpoint (the documented path template, "+
				"or other) and outcome (verified, unverified, or the code the client was answered with).",
			"merchant", "method", "endpoint", "outcome"),
		moduleDuration:   duration("module", moduleBuckets),
		upstreamDuration: duration("upstream", upstreamBuckets),
		encryptedFields: counter("encrypted_fields_total",
			"Sensitive values (body fields and query parameters) a wechatpay handler encrypted.", "merchant"),
		verifyFailures: counter("response_verification_failures_total",
			"WeChat Pay answers that failed verification, by merchant and code; the client got a 502 with the code.",
			"merchant", "code"),
		callbacks: counter("callbacks_total",
			"Callbacks through a wechatpay_notify handler, by merchant, event_type (of a verified callback, else empty) "+
				"and outcome (delivered, duplicate, app_failed, or the refusal code).",
			"merchant", "event_type", "outcome"),
		downloads: counter("certificate_downloads_total",
			"Platform certificate downloads from WeChat Pay, by merchant and outcome (ok, not_found: the merchant "+
				"uses the public key, failed).",
			"merchant", "outcome"),
		refusals: newRefusalsCounter(),
		state:    newStateCollector(),
	}
}

// collectors returns what metricsOf registers.
func (s *metricSet) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.requests, s.moduleDuration, s.upstreamDuration, s.encryptedFields,
		s.verifyFailures, s.callbacks, s.downloads, s.refusals, s.state, keyReloadsTotal, replayWindowMetrics}
}

// metricSets are the metric sets of the configurations running, by
// registry; a set leaves when its configuration stops.
var metricSets = struct {
	sync.Mutex
	byRegistry map[*prometheus.Registry]*metricSet
}{byRegistry: map[*prometheus.Registry]*metricSet{}}

// metricsOf returns the metric set of ctx's configuration, registering it
// in the configuration's registry on first use. It returns nil for a
// context without a registry (not made by Caddy): every recording method
// does nothing on nil.
func metricsOf(ctx caddy.Context) (*metricSet, error) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil, nil
	}
	metricSets.Lock()
	defer metricSets.Unlock()
	if s := metricSets.byRegistry[reg]; s != nil {
		return s, nil
	}
	s := newMetricSet()
	for _, c := range s.collectors() {
		// A set registers once per registry (byRegistry): a collector
		// already there under one of these names is another module's.
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering the wechatpay metrics: %w", err)
		}
	}
	metricSets.byRegistry[reg] = s
	context.AfterFunc(ctx, func() {
		metricSets.Lock()
		delete(metricSets.byRegistry, reg)
		metricSets.Unlock()
	})
	return s, nil
}

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

// merchantMetrics records a merchant's certificate downloads; its methods
// do nothing on nil.
type merchantMetrics struct {
	downloads *prometheus.CounterVec // outcome
}

// merchant returns the metrics of the app's merchant name; nil on nil.
func (s *metricSet) merchant(name string) *merchantMetrics {
	if s == nil {
		return nil
	}
	return &merchantMetrics{downloads: s.downloads.MustCurryWith(prometheus.Labels{"merchant": name})}
}

// download counts a download that ended with err (notFound: WeChat Pay's
// 404 RESOURCE_NOT_EXISTS).
func (m *merchantMetrics) download(err error, notFound bool) {
	if m == nil {
		return
	}
	m.downloads.WithLabelValues(metriclabels.Download(err, notFound)).Inc()
}

// watchApp reports the state of the app's merchants (certificates, last
// download) from now on, and starts the download counters of those that
// download at 0.
func (s *metricSet) watchApp(a *App) {
	if s == nil {
		return
	}
	for _, name := range a.names() {
		if m := a.Merchants[name]; m.certs != nil && m.metrics != nil {
			for _, outcome := range []string{metriclabels.DownloadOK, metriclabels.DownloadNotFound, metriclabels.DownloadFailed} {
				m.metrics.downloads.WithLabelValues(outcome)
			}
		}
	}
	s.state.setApp(a)
}

// provisionMetrics gives each merchant its metrics before the merchants are
// provisioned (the first download happens then).
func (a *App) provisionMetrics(ctx caddy.Context) (*metricSet, error) {
	set, err := metricsOf(ctx)
	if err != nil || set == nil {
		return nil, err
	}
	for name, m := range a.Merchants {
		if m != nil {
			m.metrics = set.merchant(name)
		}
	}
	return set, nil
}

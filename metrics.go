package wechatpay

import (
	"context"
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

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

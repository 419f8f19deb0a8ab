package wechatpay

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
)

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
// provisioned (their downloads, at the app's Start, are counted).
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

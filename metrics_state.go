package wechatpay

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reports the live state of one configuration's merchants
// and handlers as gauges, read at each scrape: the expiry of every platform
// certificate kept (configured or downloaded) and of each merchant API
// certificate named by merchant_certificate, and when each merchant's
// platform certificates were last fetched. Reading at scrape time, rather
// than setting gauges as things change, keeps the series to what the
// configuration has now: a certificate that expired and was dropped, or a
// merchant removed by a reload (whose registry is dropped with it), leaves
// no series behind; a key reload shows at the next scrape.
//
// Several handlers can report one certificate (a wechatpay and a
// wechatpay_notify handler with the same inline keys, two routes with the
// same keys): a certificate is reported once, by its serial, under the
// first merchant label that has it, the app's merchants first, then the
// wechatpay handlers, then the wechatpay_notify handlers.
type stateCollector struct {
	platformExpiry *prometheus.Desc
	merchantExpiry *prometheus.Desc
	lastSuccess    *prometheus.Desc

	mu       sync.Mutex
	app      *App
	handlers []ownKeys // wechatpay handlers with keys of their own
	notifies []ownKeys // wechatpay_notify handlers with keys of their own
}

// ownKeys is a handler with keys of its own: its merchant label and its
// keys as they are now.
type ownKeys struct {
	merchant string
	keys     func() *keySet
}

func newStateCollector() *stateCollector {
	name := func(n string) string { return prometheus.BuildFQName(metricsNamespace, metricsSubsystem, n) }
	return &stateCollector{
		platformExpiry: prometheus.NewDesc(name("platform_certificate_expiry_timestamp_seconds"),
			"When each WeChat Pay platform certificate in use (configured or downloaded) expires, in seconds since the epoch.",
			[]string{"merchant", "serial"}, nil),
		merchantExpiry: prometheus.NewDesc(name("merchant_certificate_expiry_timestamp_seconds"),
			"When the merchant API certificate (merchant_certificate, apiclient_cert.pem) expires, in seconds since the epoch; "+
				"WeChat Pay refuses requests signed under an expired one.",
			[]string{"merchant", "serial"}, nil),
		lastSuccess: prometheus.NewDesc(name("certificate_last_success_timestamp_seconds"),
			"When WeChat Pay last answered a platform certificate download for the merchant (by this instance or another "+
				"sharing its storage), in seconds since the epoch; 0 if never.",
			[]string{"merchant"}, nil),
	}
}

// setApp reports the app's merchants.
func (c *stateCollector) setApp(a *App) {
	c.mu.Lock()
	c.app = a
	c.mu.Unlock()
}

// addOwnKeys reports the keys of a handler with keys of its own.
func (c *stateCollector) addOwnKeys(merchant string, keys func() *keySet, notify bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if notify {
		c.notifies = append(c.notifies, ownKeys{merchant, keys})
	} else {
		c.handlers = append(c.handlers, ownKeys{merchant, keys})
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.platformExpiry
	ch <- c.merchantExpiry
	ch <- c.lastSuccess
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	app := c.app
	own := append(slices.Clone(c.handlers), c.notifies...)
	c.mu.Unlock()

	platform, merchant := newOncePerSerial(c.platformExpiry), newOncePerSerial(c.merchantExpiry)
	if app != nil {
		for _, name := range app.names() {
			m := app.Merchants[name]
			if static := m.staticKeys(); static != nil {
				for _, serial := range sortedKeys(static.notAfter) {
					platform.add(ch, name, serial, static.notAfter[serial])
				}
			}
			for _, pc := range m.platformCertificates() {
				platform.add(ch, name, pc.Serial, pc.NotAfter())
			}
			if mc := m.merchantCertificate(); mc != nil {
				merchant.add(ch, name, mc.serial, mc.notAfter)
			}
			if m.certs != nil {
				ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, epochSeconds(m.certs.lastChecked()), name)
			}
		}
	}
	for _, o := range own {
		keys := o.keys()
		for _, serial := range sortedKeys(keys.notAfter) {
			platform.add(ch, o.merchant, serial, keys.notAfter[serial])
		}
		if mc := keys.merchantCert; mc != nil {
			merchant.add(ch, o.merchant, mc.serial, mc.notAfter)
		}
	}
}

// oncePerSerial emits a certificate's expiry gauge the first time its
// serial comes, and ignores it after.
type oncePerSerial struct {
	desc *prometheus.Desc
	seen map[string]bool
}

func newOncePerSerial(desc *prometheus.Desc) *oncePerSerial {
	return &oncePerSerial{desc: desc, seen: map[string]bool{}}
}

func (o *oncePerSerial) add(ch chan<- prometheus.Metric, merchant, serial string, notAfter time.Time) {
	if o.seen[serial] {
		return
	}
	o.seen[serial] = true
	ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(notAfter.Unix()), merchant, serial)
}

// epochSeconds returns t in seconds since the epoch, 0 for the zero time.
func epochSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func sortedKeys(m map[string]time.Time) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

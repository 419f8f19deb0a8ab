package demo

import (
	"bytes"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/common/expfmt"
)

// metricsPrefix starts the name of every series of the wechatpay module.
const metricsPrefix = "caddy_wechatpay_"

// metrics is step 11: the module's series in Caddy's registry after the
// demo's own requests, as a scrape of /metrics shows them. The demo runs
// Caddy with its admin endpoint off, so it reads the running
// configuration's registry directly.
func (r *run) metrics() {
	r.p.heading(11, "What Caddy's /metrics shows for these requests (the caddy_wechatpay_ series)")
	text, err := wechatpayMetrics()
	if err != nil {
		r.p.line("✗ reading Caddy's metrics failed: %v", err)
		r.problem("Caddy's metrics could not be read: %v", err)
		return
	}
	if text == "" {
		r.p.line("✗ no caddy_wechatpay_ series in Caddy's registry")
		r.problem("Caddy's registry holds no caddy_wechatpay_ series")
		return
	}
	r.p.line("With the admin endpoint on (the demo turns it off), they are at http://localhost:2019/metrics;")
	r.p.line("HELP and TYPE lines and the histograms' buckets are left out here. See docs/metrics.md.")
	r.p.block(text)
}

// wechatpayMetrics gathers the running configuration's registry and returns
// the module's series in the text format a scrape gets, without the
// comments and the histogram buckets.
func wechatpayMetrics() (string, error) {
	ctx := caddy.ActiveContext()
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return "", nil
	}
	families, err := reg.Gather()
	if err != nil {
		return "", err
	}
	var all bytes.Buffer
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), metricsPrefix) {
			if _, err := expfmt.MetricFamilyToText(&all, mf); err != nil {
				return "", err
			}
		}
	}
	var out []string
	for line := range strings.SplitSeq(all.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "_bucket{") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), nil
}

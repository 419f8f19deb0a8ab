package wechatpay

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
)

// replayWindow remembers every signature this Caddy instance accepted
// (serial, timestamp, nonce) while its timestamp is still accepted, so that
// a recorded response or callback played again is refused
// (SIGNATURE_REPLAYED). It is one per process, shared by both handlers and
// by every configuration, since it must outlive a configuration reload;
// another instance of a cluster does not see it (docs/replay.md). It holds
// at most replay.DefaultMaxEntries signatures (about 22 MiB) and, full,
// refuses new ones (REPLAY_WINDOW_FULL) rather than forget live ones.
var replayWindow = replay.New(replay.Config{Window: apiv3.MaxResponseSkew})

// replayWindowCollector reports the process's replay window (replayWindow)
// at each scrape: how many signatures it holds, how many it may hold, and
// its verdicts since the process started.
// Like the window, it is process-wide, one collector registered in every
// configuration's registry. The refusals are counted where they happen, by
// merchant and code: response_verification_failures_total and
// callbacks_total, code SIGNATURE_REPLAYED or REPLAY_WINDOW_FULL.
type replayWindowCollector struct {
	window     func() replay.Stats
	entries    *prometheus.Desc
	maxEntries *prometheus.Desc
	checks     *prometheus.Desc // verdict
}

// replayWindowMetrics is the collector of replayWindow.
var replayWindowMetrics = newReplayWindowCollector(replayWindow.Stats)

func newReplayWindowCollector(stats func() replay.Stats) *replayWindowCollector {
	name := func(n string) string { return prometheus.BuildFQName(metricsNamespace, metricsSubsystem, n) }
	return &replayWindowCollector{
		window: stats,
		entries: prometheus.NewDesc(name("replay_window_entries"),
			"Signatures (serial, timestamp, nonce) of answers and callbacks this process accepted whose timestamp "+
				"is still accepted: the replay window's entries.", nil, nil),
		maxEntries: prometheus.NewDesc(name("replay_window_max_entries"),
			"The replay window's cap: full, it refuses new answers and callbacks (REPLAY_WINDOW_FULL) rather than "+
				"forget signatures still accepted.", nil, nil),
		checks: prometheus.NewDesc(name("replay_window_checks_total"),
			"Signatures of verified answers and callbacks the replay window was asked about, by verdict: "+
				"fresh (recorded), replay (refused), full (refused: REPLAY_WINDOW_FULL), out_of_window "+
				"(not recorded: the verifier refuses the timestamp) and forgotten (refused after the clock went back).",
			[]string{"verdict"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *replayWindowCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.maxEntries
	ch <- c.checks
}

// Collect implements prometheus.Collector.
func (c *replayWindowCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.window()
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(c.maxEntries, prometheus.GaugeValue, float64(st.MaxEntries))
	for _, v := range []struct {
		verdict replay.Verdict
		n       uint64
	}{{replay.Fresh, st.Fresh}, {replay.Replay, st.Replays}, {replay.Full, st.Full},
		{replay.OutOfWindow, st.OutOfWindow}, {replay.Forgotten, st.Forgotten}} {
		ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(v.n), v.verdict.String())
	}
}

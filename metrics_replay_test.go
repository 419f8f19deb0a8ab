package wechatpay

import (
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
)

// TestReplayWindowMetrics: the gauges follow the window, entries expiring
// with it, and the cap is the window's; the checks count its verdicts.
func TestReplayWindowMetrics(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	w := replay.New(replay.Config{Window: 300 * time.Second, MaxEntries: 3, Now: func() time.Time { return now }})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newReplayWindowCollector(w.Stats))
	expect := func(entries float64) {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			if f.GetName() == "caddy_wechatpay_replay_window_checks_total" {
				continue // below
			}
			if len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge() == nil {
				t.Fatalf("%s: want one gauge, got %v", f.GetName(), f.GetMetric())
			}
			got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
		}
		want := map[string]float64{"caddy_wechatpay_replay_window_entries": entries, "caddy_wechatpay_replay_window_max_entries": 3}
		if len(got) != len(want) || got["caddy_wechatpay_replay_window_entries"] != entries ||
			got["caddy_wechatpay_replay_window_max_entries"] != 3 {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	expect(0)
	for i, nonce := range []string{"a", "b", "c", "d"} {
		if v := w.Seen("SERIAL", now.Unix(), nonce); (i < 3) != (v == replay.Fresh) {
			t.Fatalf("nonce %s: %v", nonce, v)
		}
	}
	expect(3) // full: the fourth was refused, not recorded
	// A replay, and a timestamp out of the window.
	w.Seen("SERIAL", now.Unix(), "a")
	w.Seen("SERIAL", now.Unix()-3600, "late")
	now = now.Add(301 * time.Second)
	expect(0) // expired with the window
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]float64{}
	for _, f := range families {
		if f.GetName() == "caddy_wechatpay_replay_window_checks_total" {
			for _, m := range f.GetMetric() {
				checks[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{"fresh": 3, "replay": 1, "full": 1, "out_of_window": 1, "forgotten": 0}
	if !maps.Equal(checks, want) {
		t.Errorf("checks %v, want %v", checks, want)
	}
}

// TestReplayWindowMetricsRegistered: every configuration's registry has the
// process's window, and registering it in a second one is no conflict.
func TestReplayWindowMetricsRegistered(t *testing.T) {
	for range 2 {
		reg := prometheus.NewPedanticRegistry()
		for _, c := range newMetricSet().collectors() {
			reg.MustRegister(c)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, f := range families {
			switch f.GetName() {
			case "caddy_wechatpay_replay_window_entries", "caddy_wechatpay_replay_window_max_entries",
				"caddy_wechatpay_replay_window_checks_total":
				found++
			}
		}
		if found != 3 {
			t.Fatalf("the registry has %d of the replay window's 3 families", found)
		}
	}
}

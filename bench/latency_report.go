//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/tlsstandin"
)

// summarize computes a mode's figures from its samples and counters.
func (md *latencyMode) summarize() {
	s := slices.Sorted(slices.Values(md.samples))
	md.Calls = len(s)
	if len(s) > 0 {
		sum := 0.0
		for _, v := range s {
			sum += v
		}
		md.MinMs, md.MaxMs, md.MeanMs = s[0], s[len(s)-1], sum/float64(len(s))
		md.P50Ms, md.P99Ms = quantileMs(s, 0.50), quantileMs(s, 0.99)
	}
	if tried := md.Calls + md.Errors; tried > 0 {
		md.LinkConnsPerCall = float64(md.linkConns) / float64(tried)
	}
	md.Protocol = md.protocol()
}

// quantileMs is quantile (the throughput rows' convention) over sorted
// milliseconds.
func quantileMs(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}

// p50 is quantileMs(v, 0.50) of unsorted milliseconds.
func p50(v []float64) float64 { return quantileMs(slices.Sorted(slices.Values(v)), 0.50) }

// protocol describes how a mode's calls went, from what the stand-in and
// the relay counted: the HTTP version and TLS version the stand-in saw, and
// whether the calls paid a new connection each or rode a pooled one.
func (md *latencyMode) protocol() string {
	if !md.viaStand {
		return "TCP, one kept connection"
	}
	c := md.StandIn
	tlsFrom := c
	if c.Handshakes == 0 {
		tlsFrom = md.StandInWarm // a pooled mode shook hands in its warm-up
	}
	p := httpVersion(c) + " " + tlsVersion(tlsFrom)
	switch {
	case c.Handshakes == 0 && md.linkConns == 0:
		p += ", pooled"
	default:
		tried := float64(md.Calls + md.Errors)
		p += fmt.Sprintf(", %.2f new conns/call", float64(md.linkConns)/tried)
		if c.Resumed > 0 {
			p += fmt.Sprintf(" (%d resumed)", c.Resumed)
		}
	}
	switch md.Mode {
	case "module":
		return "local HTTP/1.1 new conn/call; proxy " + p
	case "module-unix":
		// Its proxy is module's: the pool's handshakes may all be module's.
		return "Unix socket HTTP/1.1 new conn/call; proxy's pool shared with c"
	}
	return p
}

func httpVersion(c tlsstandin.Counts) string {
	switch {
	case c.HTTP1+c.HTTP2 == 0:
		return "?"
	case c.HTTP1 == 0:
		return "HTTP/2"
	case c.HTTP2 == 0:
		return "HTTP/1.1"
	}
	return fmt.Sprintf("mixed (%d HTTP/1.1, %d HTTP/2)", c.HTTP1, c.HTTP2)
}

func tlsVersion(c tlsstandin.Counts) string {
	switch {
	case c.TLS12+c.TLS13 == 0:
		return "TLS ?"
	case c.TLS12 == 0:
		return "TLS 1.3"
	case c.TLS13 == 0:
		return "TLS 1.2"
	}
	return "TLS 1.2+1.3"
}

func printLatency(w io.Writer, res latencyResults) {
	m, o := res.Machine, res.Options
	fmt.Fprintf(w, "\ncaddy-wechatpay latency a legacy app sees, %s\n", m.Date)
	fmt.Fprintf(w, "machine: %s, %d cores, %s, %s (load average at start %s)\n", m.CPU, m.Cores, m.Kernel, m.Go, m.LoadAvg)
	fmt.Fprintf(w, "WeChat Pay stand-in over TLS (throwaway CA, ECDSA P-256, offers h2 + HTTP/1.1) behind an emulated %.0f ms round-trip link\n", res.RTTms)
	fmt.Fprintf(w, "(loopback relay, each direction delayed %.1f ms, TCP handshake counted); presign request, %d sequential calls per mode\n",
		res.RTTms/2, o.LatencyCalls)
	fmt.Fprintf(w, "in %d rounds rotating the order, after %d warm-up calls each; proxy (Caddy + module) pinned to CPU %d, apps, relay and stand-in to CPU %d\n\n",
		o.LatencyRounds, o.LatencyWarmup, m.ServerCPU, m.ClientCPU)
	hdr := fmt.Sprintf("%-36s %-62s %5s %6s %8s %8s %8s %8s %8s", "mode", "protocol", "calls", "errors", "min ms", "p50 ms", "p99 ms", "max ms", "mean ms")
	fmt.Fprintln(w, hdr)
	fmt.Fprintln(w, strings.Repeat("-", len(hdr)))
	by := map[string]latencyResult{}
	for _, r := range res.Modes {
		by[r.Mode] = r
		fmt.Fprintf(w, "%-36s %-62s %5d %6d %8.2f %8.2f %8.2f %8.2f %8.2f", r.Label, r.Protocol, r.Calls, r.Errors,
			r.MinMs, r.P50Ms, r.P99Ms, r.MaxMs, r.MeanMs)
		if r.Check != "ok" {
			fmt.Fprintf(w, "  CHECK FAILED: %s", r.Check)
		}
		if r.FirstError != "" {
			fmt.Fprintf(w, "  first error: %s", r.FirstError)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	rtt := res.RTTms
	diff := func(a, b string, what string) {
		ra, okA := by[a]
		rb, okB := by[b]
		if !okA || !okB || ra.Calls == 0 || rb.Calls == 0 {
			return
		}
		d := ra.P50Ms - rb.P50Ms
		var rounds []string
		for i := range min(len(ra.SamplesMs), len(rb.SamplesMs)) {
			if len(ra.SamplesMs[i]) > 0 && len(rb.SamplesMs[i]) > 0 {
				rounds = append(rounds, fmt.Sprintf("%+.1f", p50(ra.SamplesMs[i])-p50(rb.SamplesMs[i])))
			}
		}
		trips := ""
		if rtt > 0 {
			trips = fmt.Sprintf(" = %+.2f round trips", d/rtt)
		}
		fmt.Fprintf(w, "%-46s p50 %+7.2f ms%s; mean %+7.2f ms; p50 by round %s\n",
			what, d, trips, ra.MeanMs-rb.MeanMs, strings.Join(rounds, " "))
	}
	diff("module", "sdk-pooled", "c - b   local proxy vs SDK, pooled conn:")
	diff("sdk-new-conn", "module", "a - c   new TLS conn per call vs local proxy:")
	diff("module", "module-unix", "c - c'  loopback TCP vs the proxy's Unix socket:")
	diff("sdk-new-conn-tls12", "sdk-new-conn", "a' - a  TLS 1.2 vs TLS 1.3, new conn per call:")
	diff("sdk-pooled", "link", "b - 0   SDK on a pooled conn vs the link alone:")
	fmt.Fprintln(w, "every answer: signature verified (SDK in a/a'/b, the module in c), status 200 and the presign token checked;")
	fmt.Fprintln(w, "each mode refused an answer with a spoiled signature; one request per mode and round checked at the stand-in;")
	fmt.Fprintln(w, "each answer signed ahead with a nonce of its own, none sent twice.")
	if res.Stopped != "" {
		fmt.Fprintf(w, "STOPPED EARLY: %s\n", res.Stopped)
	}
	if res.StandInPools != "" {
		fmt.Fprintf(w, "STAND-IN: %s\n", res.StandInPools)
	}
	if !res.OK {
		fmt.Fprintln(w, "THE RUN FAILED: errors or failed checks above; its figures are not to be used.")
	}
	fmt.Fprintln(w)
}

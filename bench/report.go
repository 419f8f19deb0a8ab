//go:build linux

package main

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
)

var rowLabels = map[string]string{
	"floor":          "1 crypto floor (in-process, no HTTP)",
	"floor-openssl":  "1o crypto floor, OpenSSL signature",
	"caddy":          "2 Caddy reverse_proxy, no wechatpay",
	"ideal":          "2c Caddy + floor crypto, bare handler",
	"peer":           "3 peer: httputil + gjson/sjson + SDK",
	"module":         "4 Caddy + wechatpay (this module)",
	"module-openssl": "4o Caddy + wechatpay, OpenSSL build",
}

func label(row string) string {
	if l, ok := rowLabels[row]; ok {
		return l
	}
	return row
}

// rowSummary is the median of a row's runs in one phase.
type rowSummary struct {
	Row          string  `json:"row"`
	Label        string  `json:"label"`
	Clients      int     `json:"clients"`
	Runs         int     `json:"runs"`
	RPS          float64 `json:"rps"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	CPUus        float64 `json:"cpu_us_per_req"`
	CPUusMin     float64 `json:"cpu_us_per_req_min"`
	CPUusMax     float64 `json:"cpu_us_per_req_max"`
	PeakRSS      int64   `json:"peak_rss"`
	Errors       int64   `json:"errors"`
	AllocsPerReq float64 `json:"allocs_per_req"`
	BytesPerReq  float64 `json:"alloc_bytes_per_req"`
	Check        string  `json:"check"`
}

type goal struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	Known  bool   `json:"known"`
}

type summary struct {
	Throughput []rowSummary `json:"throughput"`
	Paced      []rowSummary `json:"paced,omitempty"`
	// PacedOpenSSL is plain Caddy paced to the OpenSSL module's rate.
	PacedOpenSSL []rowSummary `json:"paced_openssl,omitempty"`
	RSS          []rowSummary `json:"rss"`
	// Ratios: medians of the per-round ratios (runs of one round are
	// back to back, so core speed and machine noise mostly cancel).
	ThroughputRatio float64 `json:"module_over_peer_throughput"`
	CPUEfficiency   float64 `json:"cpu_efficiency"`
	OverheadUs      float64 `json:"module_overhead_us_per_req"`
	// PacedEfficiency uses plain Caddy's CPU per request at the module's
	// request rate instead of at its own saturation rate (diagnostic).
	PacedEfficiency float64 `json:"cpu_efficiency_vs_paced_caddy,omitempty"`
	// PacedOpenSSLEfficiency is OpenSSLEfficiency with plain Caddy paced to
	// the OpenSSL module's rate (diagnostic).
	PacedOpenSSLEfficiency float64 `json:"openssl_cpu_efficiency_vs_paced_caddy,omitempty"`
	// IdealRatio is the ideal row's CPU per request / the module's: how
	// close the module comes to the least any Caddy handler doing the
	// floor's crypto costs, in the same process and at a similar rate
	// (diagnostic, not a goal).
	IdealRatio float64 `json:"ideal_cpu_over_module_cpu,omitempty"`
	// CapacityRatio is peer CPU per request / module CPU per request: the
	// throughput ratio on a saturated core, less sensitive to noise.
	CapacityRatio float64 `json:"peer_cpu_over_module_cpu"`
	// OpenSSLSpeedup is the module's CPU per request over the OpenSSL
	// module's: how many more requests per CPU-second the OpenSSL build
	// serves. OpenSSLEfficiency is (OpenSSL floor + plain Caddy) / OpenSSL
	// module, CPU per request, and OpenSSLOverheadUs the OpenSSL module's
	// CPU per request beyond that sum.
	OpenSSLSpeedup    float64 `json:"openssl_module_speedup_per_cpu_second,omitempty"`
	OpenSSLEfficiency float64 `json:"openssl_cpu_efficiency,omitempty"`
	OpenSSLOverheadUs float64 `json:"openssl_module_overhead_us_per_req,omitempty"`
	RSSRatio          float64 `json:"module_over_caddy_peak_rss_at_rss_clients"`
	ClaimsPerConn     float64 `json:"module_claims_heap_per_conn"`
	Goals             []goal  `json:"goals"`
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarizeRows(runs []runResult, phase string) []rowSummary {
	var order []string
	by := map[string][]runResult{}
	for _, r := range runs {
		if r.Phase != phase {
			continue
		}
		if _, ok := by[r.Row]; !ok {
			order = append(order, r.Row)
		}
		by[r.Row] = append(by[r.Row], r)
	}
	slices.SortStableFunc(order, func(a, b string) int { return strings.Compare(label(a), label(b)) })
	var out []rowSummary
	for _, row := range order {
		rs := by[row]
		col := func(f func(runResult) float64) []float64 {
			var v []float64
			for _, r := range rs {
				v = append(v, f(r))
			}
			return v
		}
		cpu := col(func(r runResult) float64 { return r.CPUus })
		s := rowSummary{Row: row, Label: label(row), Clients: rs[0].Clients, Runs: len(rs),
			RPS:          median(col(func(r runResult) float64 { return r.RPS })),
			P50ms:        median(col(func(r runResult) float64 { return r.P50ms })),
			P99ms:        median(col(func(r runResult) float64 { return r.P99ms })),
			CPUus:        median(cpu),
			CPUusMin:     slices.Min(cpu),
			CPUusMax:     slices.Max(cpu),
			PeakRSS:      int64(median(col(func(r runResult) float64 { return float64(r.PeakRSS) }))),
			AllocsPerReq: median(col(func(r runResult) float64 { return r.AllocsPerReq })),
			BytesPerReq:  median(col(func(r runResult) float64 { return r.BytesPerReq })),
			Check:        "ok",
		}
		for _, r := range rs {
			s.Errors += r.Errors
			if r.Check != "ok" {
				s.Check = r.Check
			}
		}
		out = append(out, s)
	}
	return out
}

func summarize(res results) summary {
	s := summary{Throughput: summarizeRows(res.Runs, "throughput"), RSS: summarizeRows(res.Runs, "rss"),
		Paced: summarizeRows(res.Runs, "paced"), PacedOpenSSL: summarizeRows(res.Runs, "paced-openssl")}
	rounds := map[int]map[string]runResult{}
	for _, r := range res.Runs {
		if r.Phase != "throughput" {
			continue
		}
		if rounds[r.Round] == nil {
			rounds[r.Round] = map[string]runResult{}
		}
		rounds[r.Round][r.Row] = r
	}
	var thr, eff, over, capa, ideal, speedup, effO, overO []float64
	for _, rr := range rounds {
		m, hasM := rr["module"]
		if p, ok := rr["peer"]; ok && hasM && p.RPS > 0 {
			thr = append(thr, m.RPS/p.RPS)
			if m.CPUus > 0 {
				capa = append(capa, p.CPUus/m.CPUus)
			}
		}
		if i, ok := rr["ideal"]; ok && hasM && m.CPUus > 0 {
			ideal = append(ideal, i.CPUus/m.CPUus)
		}
		f, okF := rr["floor"]
		c, okC := rr["caddy"]
		if okF && okC && hasM && m.CPUus > 0 {
			eff = append(eff, (f.CPUus+c.CPUus)/m.CPUus)
			over = append(over, m.CPUus-f.CPUus-c.CPUus)
		}
		mo, hasMO := rr["module-openssl"]
		if hasM && hasMO && mo.CPUus > 0 {
			speedup = append(speedup, m.CPUus/mo.CPUus)
		}
		if fo, ok := rr["floor-openssl"]; ok && okC && hasMO && mo.CPUus > 0 {
			effO = append(effO, (fo.CPUus+c.CPUus)/mo.CPUus)
			overO = append(overO, mo.CPUus-fo.CPUus-c.CPUus)
		}
	}
	s.OpenSSLSpeedup, s.OpenSSLEfficiency, s.OpenSSLOverheadUs = median(speedup), median(effO), median(overO)
	s.ThroughputRatio, s.CPUEfficiency, s.OverheadUs, s.CapacityRatio = median(thr), median(eff), median(over), median(capa)
	s.IdealRatio = median(ideal)
	pacedEfficiency := func(paced []rowSummary, floor, module string) float64 {
		if len(paced) != 1 {
			return 0
		}
		var f, m float64
		for _, r := range s.Throughput {
			switch r.Row {
			case floor:
				f = r.CPUus
			case module:
				m = r.CPUus
			}
		}
		if f > 0 && m > 0 {
			return (f + paced[0].CPUus) / m
		}
		return 0
	}
	s.PacedEfficiency = pacedEfficiency(s.Paced, "floor", "module")
	s.PacedOpenSSLEfficiency = pacedEfficiency(s.PacedOpenSSL, "floor-openssl", "module-openssl")
	var rc, rm *rowSummary
	for i := range s.RSS {
		switch s.RSS[i].Row {
		case "caddy":
			rc = &s.RSS[i]
		case "module":
			rm = &s.RSS[i]
		}
	}
	if rc != nil && rm != nil && rc.PeakRSS > 0 {
		s.RSSRatio = float64(rm.PeakRSS) / float64(rc.PeakRSS)
	}
	var claims, plainClaims *claimsResult
	for i := range res.Claims {
		switch res.Claims[i].Row {
		case "module":
			claims = &res.Claims[i]
			s.ClaimsPerConn = claims.HeapPerConn
		case "caddy":
			plainClaims = &res.Claims[i]
		}
	}

	allOK := true
	for _, r := range append(slices.Clone(s.Throughput), s.RSS...) {
		allOK = allOK && r.Check == "ok" && r.Errors == 0
	}
	s.Goals = []goal{
		{Name: "every answer right (200 + stand-in body; fields encrypted, request signed)", Value: map[bool]string{true: "yes", false: "NO"}[allOK],
			Target: "yes", Pass: allOK, Known: true},
		{Name: "CPU efficiency (floor + plain Caddy) / module, CPU per request", Value: fmt.Sprintf("%.3f", s.CPUEfficiency),
			Target: ">= 0.97", Pass: s.CPUEfficiency >= 0.97, Known: len(eff) > 0},
		{Name: "throughput module / peer", Value: fmt.Sprintf("%.3f", s.ThroughputRatio),
			Target: ">= 1.00", Pass: s.ThroughputRatio >= 1, Known: len(thr) > 0},
		{Name: fmt.Sprintf("peak RSS module / plain Caddy, %d clients", res.Options.RSSClients), Value: fmt.Sprintf("%.2f", s.RSSRatio),
			Target: "<= 1.50", Pass: s.RSSRatio > 0 && s.RSSRatio <= 1.5, Known: s.RSSRatio > 0},
		{Name: "OpenSSL build: req per CPU-second, module OpenSSL / module pure Go", Value: ratioText(s.OpenSSLSpeedup, len(speedup)),
			Target: ">= 2.00", Pass: s.OpenSSLSpeedup >= 2, Known: len(speedup) > 0},
		{Name: "OpenSSL CPU efficiency (OpenSSL floor + plain Caddy) / OpenSSL module", Value: ratioText(s.OpenSSLEfficiency, len(effO)),
			Target: ">= 0.95", Pass: s.OpenSSLEfficiency >= 0.95, Known: len(effO) > 0},
	}
	if claims != nil && plainClaims != nil {
		extra := claims.HeapPerConn - plainClaims.HeapPerConn
		s.Goals = append(s.Goals, goal{
			Name:   fmt.Sprintf("heap per stalled request beyond plain Caddy's, claim %s, 1 KiB sent", kib(float64(claimBytes))),
			Value:  kib(extra),
			Target: "< 64 KiB: set by bytes sent, not by the claim",
			Pass:   extra < 64<<10, Known: true,
		})
	}
	return s
}

// ratioText is a ratio with three decimals, or "-" when no round had it.
func ratioText(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func kib(b float64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", b/(1<<10))
}

func allocs(r rowSummary) string {
	if r.AllocsPerReq < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f / %.1f KiB", r.AllocsPerReq, r.BytesPerReq/1024)
}

func printTable(w io.Writer, res results) {
	m, o, s := res.Machine, res.Options, res.Summary
	fmt.Fprintf(w, "\ncaddy-wechatpay benchmark, %s\n", m.Date)
	fmt.Fprintf(w, "machine: %s, %d cores, %s, %s (load average at start %s)\n", m.CPU, m.Cores, m.Kernel, m.Go, m.LoadAvg)
	fmt.Fprintf(w, "server (and floor) pinned to CPU %d with GOMAXPROCS=1; load generator + upstream stand-in on CPU %d\n", m.ServerCPU, m.ClientCPU)
	fmt.Fprintf(w, "busy = req/s x CPU/req, the share of the server core used: below ~95%% the core was shared or the load lagged\n")
	fmt.Fprintf(w, "presign request, %d-byte body, 5 fields RSA-OAEP + SHA256withRSA sign + verify; %d closed-loop clients, %s per run, %d round(s) interleaved, medians\n",
		len(presignBody), o.Clients, o.Duration, o.Rounds)
	fmt.Fprintf(w, "stand-in: every answer to a verifying row (peer, module) signed ahead with a nonce of its own, none sent twice\n")
	switch {
	case strings.HasPrefix(o.OpenSSL, "skipped"):
		fmt.Fprintf(w, "OpenSSL rows %s\n", o.OpenSSL)
	case o.OpenSSL != "":
		fmt.Fprintf(w, "rows 1o and 4o (cgo, tag openssl): the merchant's signature through %s, the rest as in 1 and 4\n", o.OpenSSL)
	}
	fmt.Fprintln(w)
	hdr := fmt.Sprintf("%-38s %7s %9s %9s %9s %18s %5s %10s %16s %6s", "row", "clients", "req/s", "p50 ms", "p99 ms", "CPU µs/req (range)", "busy", "peak RSS", "allocs/req", "errors")
	fmt.Fprintln(w, hdr)
	fmt.Fprintln(w, strings.Repeat("-", len([]rune(hdr))))
	line := func(r rowSummary) {
		clients := fmt.Sprint(r.Clients)
		if strings.HasPrefix(r.Row, "floor") {
			clients = "-"
		}
		rng := fmt.Sprintf("%.0f (%.0f-%.0f)", r.CPUus, r.CPUusMin, r.CPUusMax)
		busy := fmt.Sprintf("%.0f%%", r.RPS*r.CPUus/1e4)
		fmt.Fprintf(w, "%-38s %7s %9.1f %9.2f %9.2f %18s %5s %10s %16s %6d", r.Label, clients, r.RPS, r.P50ms, r.P99ms, rng, busy, mib(r.PeakRSS), allocs(r), r.Errors)
		if r.Check != "ok" {
			fmt.Fprintf(w, "  CHECK FAILED: %s", r.Check)
		}
		fmt.Fprintln(w)
	}
	hasIdeal := false
	for _, r := range s.Throughput {
		line(r)
		hasIdeal = hasIdeal || r.Row == "ideal"
	}
	if hasIdeal {
		fmt.Fprintln(w, "2c (diagnostic): Caddy reverse_proxy + the floor's crypto in a bare handler (bench/idealhandler: reads the body,")
		fmt.Fprintln(w, "    does exactly the floor's sign + 5 encryptions + verify, forwards the original body; no JSON, no headers)")
	}
	if len(s.Paced)+len(s.PacedOpenSSL) > 0 {
		fmt.Fprintln(w, "diagnostic: plain Caddy paced to the median request rate of the module (2b) and of the OpenSSL module (2bo):")
		for _, r := range s.Paced {
			r.Label = "2b Caddy reverse_proxy, paced to 4"
			line(r)
		}
		for _, r := range s.PacedOpenSSL {
			r.Label = "2bo Caddy reverse_proxy, paced to 4o"
			line(r)
		}
	}
	if len(s.RSS) > 0 {
		fmt.Fprintf(w, "RSS phase (%d clients, %s per run):\n", o.RSSClients, o.RSSDuration)
		for _, r := range s.RSS {
			line(r)
		}
	}
	if len(res.Claims) > 0 {
		fmt.Fprintf(w, "claims phase (%d connections claim Content-Length %d, send 1 KiB, stall %s):\n", o.ClaimsConns, claimBytes, o.ClaimsStall)
		for _, c := range res.Claims {
			fmt.Fprintf(w, "%-38s %7d   Go heap +%s per stalled request, RSS +%s per stalled request, peak RSS %s\n",
				label(c.Row), c.Conns, kib(c.HeapPerConn), kib(c.RSSPerConn), mib(c.PeakRSS))
		}
	}
	fmt.Fprintf(w, "\nmodule overhead beyond floor + plain Caddy: %.0f µs of CPU per request\n", s.OverheadUs)
	if s.OpenSSLEfficiency > 0 {
		fmt.Fprintf(w, "OpenSSL module overhead beyond OpenSSL floor + plain Caddy: %.0f µs of CPU per request\n", s.OpenSSLOverheadUs)
	}
	if s.CapacityRatio > 0 {
		fmt.Fprintf(w, "diagnostic: peer CPU/req ÷ module CPU/req = %.3f (the throughput ratio on an undisturbed saturated core)\n", s.CapacityRatio)
	}
	if s.PacedEfficiency > 0 {
		fmt.Fprintf(w, "diagnostic: CPU efficiency with plain Caddy measured at the module's rate (row 2b): %.3f\n", s.PacedEfficiency)
	}
	if s.PacedOpenSSLEfficiency > 0 {
		fmt.Fprintf(w, "diagnostic: OpenSSL CPU efficiency with plain Caddy measured at the OpenSSL module's rate (row 2bo): %.3f\n", s.PacedOpenSSLEfficiency)
	}
	fmt.Fprintln(w, "goals:")
	for _, g := range s.Goals {
		verdict := "PASS"
		if !g.Known {
			verdict = "n/a "
		} else if !g.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  [%s] %-72s %10s  (goal %s)\n", verdict, g.Name, g.Value, g.Target)
		if strings.HasPrefix(g.Name, "CPU efficiency") && s.IdealRatio > 0 {
			fmt.Fprintf(w, "         %-72s %10.3f  (diagnostic, not a goal)\n", "module vs the ideal Caddy handler: ideal (2c) / module, CPU per request", s.IdealRatio)
		}
	}
	fmt.Fprintln(w)
}

// chartSVG draws the table: throughput, CPU per request against the floor,
// peak RSS at 256 clients, and the goals, as a dependency-free SVG.
func chartSVG(res results) string {
	s, m := res.Summary, res.Machine
	const (
		width  = 1000
		left   = 300
		barMax = 540
		barH   = 20
		gap    = 8
	)
	colors := map[string]string{"floor": "#9e9e9e", "floor-openssl": "#6d6d6d", "caddy": "#5b8def", "ideal": "#8e6cc8",
		"peer": "#f0a030", "module": "#2e9e5b", "module-openssl": "#1b5e37"}
	var b strings.Builder
	y := 20
	body := &strings.Builder{}
	text := func(x, y int, size int, weight, anchor, fill, s string) {
		fmt.Fprintf(body, `<text x="%d" y="%d" font-size="%d" font-weight="%s" text-anchor="%s" fill="%s">%s</text>`+"\n",
			x, y, size, weight, anchor, fill, html.EscapeString(s))
	}
	type bar struct {
		row, label, value string
		parts             []float64 // stacked segments
		partColors        []string
	}
	panel := func(title string, bars []bar, max float64, marker float64, markerLabel string) {
		y += 34
		text(10, y, 15, "bold", "start", "#222", title)
		y += 12
		top := y
		for _, br := range bars {
			text(left-10, y+barH-5, 13, "normal", "end", "#222", br.label)
			x := float64(left)
			clipped := false
			for i, p := range br.parts {
				wpx := p / max * barMax
				if x+wpx > left+barMax {
					wpx, clipped = left+barMax-x, true
				}
				fmt.Fprintf(body, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x, y, wpx, barH, br.partColors[i])
				x += wpx
			}
			if clipped {
				fmt.Fprintf(body, `<path d="M%.1f %d l-6 %d l6 %d" stroke="#fff" stroke-width="3" fill="none"/>`+"\n", x-12, y, barH/2, barH/2)
				text(int(x)-24, y+barH-5, 13, "bold", "end", "#fff", br.value+" (bar cut)")
			} else {
				text(int(x)+6, y+barH-5, 13, "normal", "start", "#222", br.value)
			}
			y += barH + gap
		}
		if marker > 0 {
			mx := float64(left) + marker/max*barMax
			fmt.Fprintf(body, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c62828" stroke-width="1.5" stroke-dasharray="5,3"/>`+"\n", mx, top-4, mx, y-gap+4)
			fmt.Fprintf(body, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#c62828">%s</text>`+"\n", mx, y+9, html.EscapeString(markerLabel))
			y += 12
		}
	}
	get := func(rows []rowSummary, row string) *rowSummary {
		for i := range rows {
			if rows[i].Row == row {
				return &rows[i]
			}
		}
		return nil
	}

	// Throughput.
	var bars []bar
	maxRPS := 0.0
	for _, r := range s.Throughput {
		if r.Row != "caddy" { // plain Caddy is an order of magnitude faster
			maxRPS = max(maxRPS, r.RPS)
		}
	}
	for _, r := range s.Throughput {
		bars = append(bars, bar{row: r.Row, label: r.Label, value: fmt.Sprintf("%.0f req/s  (p50 %.1f ms, p99 %.1f ms)", r.RPS, r.P50ms, r.P99ms),
			parts: []float64{r.RPS}, partColors: []string{colors[r.Row]}})
	}
	peerRPS := 0.0
	if p := get(s.Throughput, "peer"); p != nil {
		peerRPS = p.RPS
	}
	panel(fmt.Sprintf("Throughput on one core, %d clients (higher is better; line: the peer)", res.Options.Clients), bars, maxRPS*1.45, peerRPS, "peer")

	// CPU per request.
	bars = nil
	maxCPU := 0.0
	for _, r := range s.Throughput {
		maxCPU = max(maxCPU, r.CPUus)
	}
	f, c := get(s.Throughput, "floor"), get(s.Throughput, "caddy")
	for _, r := range s.Throughput {
		bars = append(bars, bar{row: r.Row, label: r.Label, value: fmt.Sprintf("%.0f µs", r.CPUus),
			parts: []float64{r.CPUus}, partColors: []string{colors[r.Row]}})
	}
	limit := 0.0
	if f != nil && c != nil {
		bars = append(bars, bar{row: "sum", label: "floor + plain Caddy", value: fmt.Sprintf("%.0f µs", f.CPUus+c.CPUus),
			parts: []float64{f.CPUus, c.CPUus}, partColors: []string{colors["floor"], colors["caddy"]}})
		limit = (f.CPUus + c.CPUus) / 0.97
		maxCPU = max(maxCPU, limit)
		if fo := get(s.Throughput, "floor-openssl"); fo != nil {
			bars = append(bars, bar{row: "sum", label: "OpenSSL floor + plain Caddy", value: fmt.Sprintf("%.0f µs (4o goal: / 0.95 = %.0f µs)", fo.CPUus+c.CPUus, (fo.CPUus+c.CPUus)/0.95),
				parts: []float64{fo.CPUus, c.CPUus}, partColors: []string{colors["floor-openssl"], colors["caddy"]}})
		}
		if len(s.Paced) == 1 {
			p := s.Paced[0].CPUus
			bars = append(bars, bar{row: "sum", label: "floor + plain Caddy at module's rate", value: fmt.Sprintf("%.0f µs (diagnostic)", f.CPUus+p),
				parts: []float64{f.CPUus, p}, partColors: []string{colors["floor"], "#9ab8f5"}})
			maxCPU = max(maxCPU, f.CPUus+p)
		}
		if fo := get(s.Throughput, "floor-openssl"); fo != nil && len(s.PacedOpenSSL) == 1 {
			p := s.PacedOpenSSL[0].CPUus
			bars = append(bars, bar{row: "sum", label: "OpenSSL floor + plain at 4o's rate", value: fmt.Sprintf("%.0f µs (diagnostic)", fo.CPUus+p),
				parts: []float64{fo.CPUus, p}, partColors: []string{colors["floor-openssl"], "#9ab8f5"}})
		}
	}
	cpuTitle := fmt.Sprintf("CPU time per request of the server process (lower is better); efficiency %.3f", s.CPUEfficiency)
	if s.IdealRatio > 0 {
		cpuTitle += fmt.Sprintf("; ideal / module %.3f (diagnostic)", s.IdealRatio)
	}
	panel(cpuTitle, bars, maxCPU*1.3, limit, "goal of row 4: (floor + plain) / 0.97")

	// Peak RSS.
	if len(s.RSS) > 0 {
		bars = nil
		maxRSS := 0.0
		for _, r := range s.RSS {
			maxRSS = max(maxRSS, float64(r.PeakRSS))
		}
		rssLimit := 0.0
		if c := get(s.RSS, "caddy"); c != nil {
			rssLimit = 1.5 * float64(c.PeakRSS)
			maxRSS = max(maxRSS, rssLimit)
		}
		for _, r := range s.RSS {
			bars = append(bars, bar{row: r.Row, label: r.Label, value: mib(r.PeakRSS),
				parts: []float64{float64(r.PeakRSS)}, partColors: []string{colors[r.Row]}})
		}
		panel(fmt.Sprintf("Peak RSS at %d clients (lower is better); module / plain %.2f", res.Options.RSSClients, s.RSSRatio),
			bars, maxRSS*1.3, rssLimit, "goal: 1.5 x plain Caddy")
	}

	// Claims.
	if len(res.Claims) > 0 {
		bars = nil
		maxH := float64(claimBytes)
		for _, c := range res.Claims {
			maxH = max(maxH, c.HeapPerConn)
		}
		for _, c := range res.Claims {
			bars = append(bars, bar{row: c.Row, label: label(c.Row), value: kib(c.HeapPerConn),
				parts: []float64{max(c.HeapPerConn, 0)}, partColors: []string{colors[c.Row]}})
		}
		panel(fmt.Sprintf("Go heap per stalled request claiming %s and sending 1 KiB (%d connections)", kib(float64(claimBytes)), res.Options.ClaimsConns),
			bars, maxH*1.3, float64(claimBytes), "the claim (= max_body)")
	}

	// Goals.
	y += 30
	text(10, y, 15, "bold", "start", "#222", "Goals")
	for _, g := range s.Goals {
		y += 20
		verdict, color := "PASS", "#2e7d32"
		if !g.Known {
			verdict, color = "n/a", "#777"
		} else if !g.Pass {
			verdict, color = "FAIL", "#c62828"
		}
		text(20, y, 13, "bold", "start", color, verdict)
		text(70, y, 13, "normal", "start", "#222", fmt.Sprintf("%s: %s (goal %s)", g.Name, g.Value, g.Target))
	}
	y += 30
	text(10, y, 11, "normal", "start", "#555", fmt.Sprintf("%s; %d cores, %s, %s; server pinned to CPU %d (GOMAXPROCS=1), load + stand-in on CPU %d; %d round(s) of %s, medians",
		m.CPU, m.Cores, m.Kernel, m.Go, m.ServerCPU, m.ClientCPU, res.Options.Rounds, res.Options.Duration))
	y += 16
	text(10, y, 11, "normal", "start", "#555", "Generated by `go run ./bench` on "+m.Date+". Raw results: bench/out/latest.json.")
	y += 14

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n", width, y, width, y)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="24" font-size="18" font-weight="bold" fill="#111">caddy-wechatpay: presign request cost, %s</text>`+"\n", html.EscapeString(m.Date))
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/relay"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/tlsstandin"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// The latency run (-latency) measures what a legacy app feels per call, not
// CPU: the WeChat Pay stand-in serves TLS (throwaway CA, HTTP/2 and HTTP/1.1
// by ALPN) behind a relay that emulates a link of -latency-rtt round trip
// (bench/relay), and a fixed number of sequential calls is timed for each
// way of calling it, in rounds that rotate the order:
//
//	link            the link alone: a TCP ping-pong over a kept connection
//	sdk-new-conn    (a) the app signs itself with the official SDK over a
//	                new TCP + TLS connection per call (no resumption), like
//	                a PHP process per request
//	sdk-new-conn-tls12  the same, TLS 1.2 (diagnostic: older PHP builds)
//	sdk-pooled      (b) the app signs itself with the SDK over a kept
//	                connection (HTTP/2)
//	module          (c) the app sends plaintext over a new plain HTTP
//	                connection per call to the local Caddy with the module,
//	                which keeps its own TLS pool to the stand-in
//	module-unix     (c') the same over a new connection per call to the
//	                same Caddy's Unix socket instead of loopback TCP
//
// Every answer is checked (status 200 and the presign token) after the
// SDK (modes a, b) or the module (c) verified its signature; before
// measuring, each mode's first request is captured and checked at the
// stand-in (fields encrypted, signature valid) and one answer with a spoiled
// signature must be refused; one request per round is captured and checked
// again.
var latencyModeNames = []string{"link", "sdk-new-conn", "sdk-new-conn-tls12", "sdk-pooled", "module", "module-unix"}

var latencyLabels = map[string]string{
	"link":               "0  link alone (TCP ping-pong)",
	"sdk-new-conn":       "a  app + SDK, new TLS conn per call",
	"sdk-new-conn-tls12": "a' same with TLS 1.2 (diagnostic)",
	"sdk-pooled":         "b  app + SDK, pooled conn",
	"module":             "c  app -> local proxy (module)",
	"module-unix":        "c' same over a Unix socket",
}

// latencyMode is one way of calling, and what was measured of it.
type latencyMode struct {
	latencyResult
	app       latencyApp
	link      *relay.Relay // the relay its calls cross
	viaStand  bool         // its calls reach the stand-in
	samples   []float64
	linkConns int64
}

// latencyResult is what the JSON keeps of one mode.
type latencyResult struct {
	Mode       string  `json:"mode"`
	Label      string  `json:"label"`
	Protocol   string  `json:"protocol"`
	Calls      int     `json:"calls"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Check      string  `json:"check"`
	Refusal    string  `json:"spoiled_answer_refused_with,omitempty"`
	MinMs      float64 `json:"min_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	MeanMs     float64 `json:"mean_ms"`
	// LinkConnsPerCall is how many connections crossed the emulated link
	// per measured call.
	LinkConnsPerCall float64 `json:"link_conns_per_call"`
	// StandIn is what the stand-in saw during the measured calls,
	// StandInWarm during the checks and the warm-up.
	StandIn     tlsstandin.Counts `json:"stand_in_measured"`
	StandInWarm tlsstandin.Counts `json:"stand_in_warmup"`
	// SamplesMs holds every measured call's latency, by round.
	SamplesMs [][]float64 `json:"samples_ms_by_round"`
}

// latencyResults is the JSON file of a latency run.
type latencyResults struct {
	Machine machine         `json:"machine"`
	Options options         `json:"options"`
	RTTms   float64         `json:"rtt_ms"`
	Modes   []latencyResult `json:"modes"`
	Stopped string          `json:"stopped_early,omitempty"`
	// StandInPools says what went wrong with the stand-in's signed answers
	// ("": each call got one of its own).
	StandInPools string `json:"stand_in_pools,omitempty"`
	OK           bool   `json:"ok"`
}

// runLatency is the -latency run: it sets up the TLS stand-in, the relay and
// the modes, checks each, measures the rounds, prints the table and writes
// bench/out/latency-*.json; it exits with status 1 when any check failed.
func runLatency(o options) {
	m := describeMachine(o)
	creds, err := sandbox.LoadCredentials(filepath.Join(o.Out, "creds"))
	if err != nil {
		fatalf("bench: %v (run without %s set to generate them)", err, pinnedEnv)
	}
	runDir := filepath.Join(o.Out, "logs")
	_ = os.RemoveAll(runDir)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		fatalf("bench: %v", err)
	}
	e := &env{o: o, creds: creds, runDir: runDir}
	oneWay := o.LatencyRTT / 2

	up := upstream.New(creds.PublicKeyPrivateKey, creds.PublicKeyID)
	ca, err := tlsstandin.NewCA()
	if err != nil {
		fatalf("bench: throwaway CA: %v", err)
	}
	cert, err := ca.Issue(wechatPayHost)
	if err != nil {
		fatalf("bench: throwaway CA: %v", err)
	}
	caPath := filepath.Join(runDir, "latency-ca.pem")
	if err := os.WriteFile(caPath, ca.PEM, 0o644); err != nil {
		fatalf("bench: %v", err)
	}
	stand, err := tlsstandin.Start(up, cert)
	if err != nil {
		fatalf("bench: stand-in: %v", err)
	}
	defer stand.Close()
	link, err := relay.New(stand.Addr(), oneWay)
	if err != nil {
		fatalf("bench: %v", err)
	}
	defer link.Close()

	modes := e.latencyModes(o, ca, link)
	defer func() {
		for _, md := range modes {
			md.app.close()
		}
	}()
	step("latency: stand-in on TLS behind a %s round-trip link (relay, loopback), proxy on CPU %d, apps + stand-in + relay on CPU %d",
		o.LatencyRTT, o.ServerCPU, o.ClientCPU)

	// The stand-in's answers are signed ahead, a pool for the checks and
	// warm-up and one per round, each with distinct nonces (the module
	// refuses a replay) and a fresh timestamp: no signature is made during
	// a timed call, none is sent twice.
	viaStand := 0
	for _, md := range modes {
		if md.viaStand {
			viaStand++
		}
	}
	var pools []*upstream.Pool
	servePool := func(calls int) {
		if calls == 0 {
			return
		}
		p, err := e.presign(calls + calls/10 + 16)
		if err != nil {
			fatalf("bench: signing the stand-in's answers: %v", err)
		}
		up.Serve(p)
		pools = append(pools, p)
	}
	servePool(viaStand * (2 + o.LatencyWarmup))
	for _, md := range modes {
		before := stand.Counts()
		md.Check = e.preflight(md, up, stand)
		for range o.LatencyWarmup {
			if err := callOnce(md.app); err != nil && md.Check == "ok" {
				md.Check = "warm-up: " + err.Error()
			}
		}
		md.StandInWarm = stand.Counts().Sub(before)
		step("  checked %-19s %s", md.Mode, md.Check)
	}

	res := latencyResults{Machine: m, Options: o, RTTms: ms(o.LatencyRTT), OK: true}
	deadline := time.Now().Add(o.LatencyMax)
	perRound := (o.LatencyCalls + o.LatencyRounds - 1) / o.LatencyRounds
rounds:
	for r := range o.LatencyRounds {
		servePool(viaStand * min(perRound, max(o.LatencyCalls-r*perRound, 0)))
		for i := range modes {
			md := modes[(i+r)%len(modes)]
			n := min(perRound, o.LatencyCalls-r*perRound)
			if n <= 0 {
				break rounds
			}
			if time.Now().After(deadline) {
				res.Stopped = fmt.Sprintf("time bound -latency-max %s reached in round %d", o.LatencyMax, r+1)
				break rounds
			}
			e.batch(md, r, n, up, stand)
		}
		step("  round %d/%d done", r+1, o.LatencyRounds)
	}
	for _, md := range modes {
		md.summarize()
		res.Modes = append(res.Modes, md.latencyResult)
		res.OK = res.OK && md.Check == "ok" && md.Errors == 0 && md.Calls > 0
	}
	for _, p := range pools {
		if msg := poolCheck("module", p); msg != "" && res.StandInPools == "" {
			res.StandInPools = msg
		}
	}
	res.OK = res.OK && res.Stopped == "" && res.StandInPools == ""
	printLatency(os.Stdout, res)

	stamp := time.Now().Format("20060102-150405")
	for _, p := range []string{filepath.Join(o.Out, "latency-"+stamp+".json"), filepath.Join(o.Out, "latency-latest.json")} {
		if err := writeJSON(p, res); err != nil {
			fatalf("bench: %v", err)
		}
	}
	step("raw results: %s", filepath.Join(o.Out, "latency-latest.json"))
	if !res.OK {
		stopAll()
		os.Exit(1)
	}
}

// latencyModes builds the apps of the modes -latency-modes names, starting
// the echo server and its relay for the link row and Caddy for the module.
func (e *env) latencyModes(o options, ca *tlsstandin.CA, link *relay.Relay) []*latencyMode {
	var modes []*latencyMode
	var proxy *server // one Caddy for module and module-unix: it listens on both
	startProxy := func() *server {
		if proxy == nil {
			proxy = e.startLatencyProxy(link.Addr(), filepath.Join(e.runDir, "latency-ca.pem"))
		}
		return proxy
	}
	for _, name := range strings.Split(o.LatencyModes, ",") {
		md := &latencyMode{latencyResult: latencyResult{Mode: name, Label: latencyLabels[name]}, link: link, viaStand: true}
		var err error
		switch name {
		case "link":
			var la *linkApp
			if la, err = newLinkApp(link.OneWay()); err == nil {
				md.app, md.link = la, la.relay
			}
			md.viaStand = false
		case "sdk-new-conn":
			md.app, err = newSDKApp(e.creds, newConnTransport(link.Addr(), tlsConfig(ca, tls.VersionTLS13, "http/1.1")))
		case "sdk-new-conn-tls12":
			md.app, err = newSDKApp(e.creds, newConnTransport(link.Addr(), tlsConfig(ca, tls.VersionTLS12, "http/1.1")))
		case "sdk-pooled":
			md.app, err = newSDKApp(e.creds, pooledTransport(link.Addr(), tlsConfig(ca, tls.VersionTLS13)))
		case "module":
			s := startProxy()
			md.app = &stoppingApp{latencyApp: newProxyApp(s.addr), s: s}
		case "module-unix":
			s := startProxy()
			md.app = &stoppingApp{latencyApp: newUnixProxyApp(e.latencySocket()), s: s}
		default:
			fatalf("bench: unknown latency mode %q (known: %s)", name, strings.Join(latencyModeNames, ","))
		}
		if err != nil {
			fatalf("bench: latency mode %s: %v", name, err)
		}
		modes = append(modes, md)
	}
	return modes
}

// stoppingApp stops the proxy when the app is closed.
type stoppingApp struct {
	latencyApp
	s *server
}

func (a *stoppingApp) close() { a.latencyApp.close(); a.s.stop() }

// callOnce makes one call with the per-call time bound.
func callOnce(app latencyApp) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return app.call(ctx)
}

// preflight checks a mode before it is measured: its first request as the
// stand-in received it (fields encrypted, signature valid), and that an
// answer whose signature does not verify is refused.
func (e *env) preflight(md *latencyMode, up *upstream.Server, stand *tlsstandin.Server) string {
	if !md.viaStand {
		if err := callOnce(md.app); err != nil {
			return "first call: " + err.Error()
		}
		return "ok"
	}
	up.Capture()
	if err := callOnce(md.app); err != nil {
		return "first call: " + err.Error()
	}
	if err := checkForwarded("module", up.Captured(), e.creds); err != nil {
		return "what reached the stand-in: " + err.Error()
	}
	before := stand.Counts().Spoiled
	stand.SpoilNext()
	err := callOnce(md.app)
	if stand.Counts().Spoiled != before+1 {
		return "the spoiled answer was not sent"
	}
	if err == nil {
		return "an answer with a spoiled signature was accepted"
	}
	md.Refusal = firstLine(err.Error(), 160)
	return "ok"
}

// batch makes n measured calls of one mode in round r; the first call's
// request is captured and checked at the stand-in.
func (e *env) batch(md *latencyMode, r, n int, up *upstream.Server, stand *tlsstandin.Server) {
	c0, l0 := stand.Counts(), md.link.Accepted()
	if md.viaStand {
		up.Capture()
	}
	var round []float64
	for range n {
		t0 := time.Now()
		err := callOnce(md.app)
		d := time.Since(t0)
		if err != nil {
			md.Errors++
			if md.FirstError == "" {
				md.FirstError = firstLine(err.Error(), 300)
			}
			continue
		}
		round = append(round, ms(d))
	}
	if md.viaStand {
		md.StandIn = addCounts(md.StandIn, stand.Counts().Sub(c0))
		if err := checkForwarded("module", up.Captured(), e.creds); err != nil && md.Check == "ok" {
			md.Check = fmt.Sprintf("round %d, what reached the stand-in: %v", r+1, err)
		}
	}
	md.linkConns += md.link.Accepted() - l0
	md.SamplesMs = append(md.SamplesMs, round)
	md.samples = append(md.samples, round...)
}

func addCounts(a, b tlsstandin.Counts) tlsstandin.Counts {
	return tlsstandin.Counts{Handshakes: a.Handshakes + b.Handshakes, Resumed: a.Resumed + b.Resumed,
		TLS12: a.TLS12 + b.TLS12, TLS13: a.TLS13 + b.TLS13, HTTP1: a.HTTP1 + b.HTTP1, HTTP2: a.HTTP2 + b.HTTP2,
		Spoiled: a.Spoiled + b.Spoiled}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

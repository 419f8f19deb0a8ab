//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// runResult is one run of one row.
type runResult struct {
	Row        string  `json:"row"`
	Phase      string  `json:"phase"` // throughput or rss
	Round      int     `json:"round"`
	Clients    int     `json:"clients"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	CPUus      float64 `json:"cpu_us_per_req"`
	PeakRSS    int64   `json:"peak_rss"`
	Completed  int64   `json:"completed"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	// Go allocations of the server per request (Caddy rows, from the
	// admin endpoint's memstats), -1 when unknown.
	AllocsPerReq float64 `json:"allocs_per_req"`
	BytesPerReq  float64 `json:"alloc_bytes_per_req"`
	// Check says whether what reached the stand-in was right, every answer
	// of the run (warm-up included) right, and the stand-in's pool enough
	// ("ok").
	Check string `json:"check"`
	// WarmupErrors counts the wrong answers of the warm-up (not measured,
	// but any fails the run's check).
	WarmupErrors int64 `json:"warmup_errors,omitempty"`
	// Pool is the number of answers signed ahead for the run, each with a
	// nonce of its own, PoolServed how many the stand-in sent (at most
	// Pool, none twice); 0 when the row does not verify answers and got one
	// fixed answer.
	Pool       int   `json:"stand_in_pool,omitempty"`
	PoolServed int64 `json:"stand_in_served,omitempty"`
}

// claimsResult is one run of the claims phase.
type claimsResult struct {
	Row         string  `json:"row"`
	Conns       int     `json:"conns"`
	ClaimBytes  int     `json:"claimed_bytes"`
	SentBytes   int     `json:"sent_bytes"`
	HeapBase    int64   `json:"heap_inuse_before"`
	HeapStall   int64   `json:"heap_inuse_stalled"`
	RSSBase     int64   `json:"rss_before"`
	RSSStall    int64   `json:"rss_stalled"`
	PeakRSS     int64   `json:"peak_rss"`
	HeapPerConn float64 `json:"heap_per_conn"`
	RSSPerConn  float64 `json:"rss_per_conn"`
	Answered    int     `json:"answered_early"`
}

type results struct {
	Machine machine        `json:"machine"`
	Options options        `json:"options"`
	Runs    []runResult    `json:"runs"`
	Claims  []claimsResult `json:"claims,omitempty"`
	Summary summary        `json:"summary"`
	Profile []string       `json:"profiles,omitempty"`
}

func run(o options) {
	m := describeMachine(o)
	creds, err := sandbox.LoadCredentials(filepath.Join(o.Out, "creds"))
	if err != nil {
		fatalf("bench: %v (run without %s set to generate them)", err, pinnedEnv)
	}
	up := upstream.New(creds.PublicKeyPrivateKey, creds.PublicKeyID)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("bench: %v", err)
	}
	go func() { _ = (&http.Server{Handler: up, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
	defer ln.Close()

	runDir := filepath.Join(o.Out, "logs")
	_ = os.RemoveAll(runDir)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		fatalf("bench: %v", err)
	}
	e := &env{o: o, creds: creds, upstream: ln.Addr().String(), up: up, runDir: runDir, floorCPU: map[string]float64{},
		presigner: o.BenchOpenSSL}
	if o.Soak > 0 {
		if !e.soak(o.SoakClients, o.Soak) {
			os.Exit(1)
		}
		return
	}
	var rows []string
	for _, row := range strings.Split(o.Rows, ",") {
		if _, ok := rowSpecs[row]; !ok {
			fatalf("bench: unknown row %q", row)
		}
		if isOpenSSLRow(row) && (o.BenchOpenSSL == "" || o.CaddyOpenSSL == "") {
			step("row %s skipped: no OpenSSL build (%s)", row, o.OpenSSL)
			continue
		}
		rows = append(rows, row)
	}
	o.Rows = strings.Join(rows, ",")
	e.o = o
	res := results{Machine: m, Options: o}
	step("server on CPU %d, load + stand-in on CPU %d; %d clients, %s runs (+%s warm-up), %d round(s)",
		o.ServerCPU, o.ClientCPU, o.Clients, o.Duration, o.Warmup, o.Rounds)
	for r := range o.Rounds {
		for i := range rows {
			row := rows[(i+r)%len(rows)] // rotate the order each round
			var rr runResult
			if strings.HasPrefix(row, "floor") {
				rr = e.floorRun(row, r)
			} else {
				rr = e.loadRun(row, "throughput", r, o.Clients, o.Warmup, o.Duration)
			}
			res.Runs = append(res.Runs, rr)
			progress(rr)
		}
	}
	if o.Paced {
		// Plain Caddy at the module's median rate (phase "paced"), and at
		// the OpenSSL module's ("paced-openssl").
		for _, p := range []struct{ module, phase string }{{"module", "paced"}, {"module-openssl", "paced-openssl"}} {
			var mod []float64
			for _, r := range res.Runs {
				if r.Row == p.module && r.Phase == "throughput" {
					mod = append(mod, r.RPS)
				}
			}
			if rate := median(mod); rate > 0 {
				step("paced phase: plain Caddy at the rate of %s, %.0f req/s", p.module, rate)
				rr := e.loadRunRate("caddy", p.phase, 0, o.Clients, o.Warmup, o.Duration, rate)
				res.Runs = append(res.Runs, rr)
				progress(rr)
			}
		}
	}
	if o.RSS {
		step("RSS phase: %d clients, %s runs", o.RSSClients, o.RSSDuration)
		for _, row := range []string{"caddy", "module"} {
			rr := e.loadRun(row, "rss", 0, o.RSSClients, o.Warmup, o.RSSDuration)
			res.Runs = append(res.Runs, rr)
			progress(rr)
		}
	}
	if o.Claims {
		step("claims phase: %d connections claim a %d-byte body, send 1 KiB and stall %s", o.ClaimsConns, claimBytes, o.ClaimsStall)
		for _, row := range []string{"caddy", "module"} {
			c := e.claimsRun(row, o.ClaimsConns, o.ClaimsStall)
			res.Claims = append(res.Claims, c)
			step("  %-7s heap +%s/conn, RSS +%s/conn (peak %s)", row, kib(c.HeapPerConn), kib(c.RSSPerConn), mib(c.PeakRSS))
		}
	}
	if o.Profile {
		for _, row := range strings.Split(o.Rows, ",") {
			if strings.HasPrefix(row, "floor") {
				continue
			}
			res.Profile = append(res.Profile, e.profileRun(row)...)
		}
	}
	res.Summary = summarize(res)
	printTable(os.Stdout, res)

	stamp := time.Now().Format("20060102-150405")
	for _, p := range []string{filepath.Join(o.Out, "results-"+stamp+".json"), filepath.Join(o.Out, "latest.json")} {
		if err := writeJSON(p, res); err != nil {
			fatalf("bench: %v", err)
		}
	}
	if o.SVG != "" {
		_ = os.MkdirAll(filepath.Dir(o.SVG), 0o755)
		if err := os.WriteFile(o.SVG, []byte(chartSVG(res)), 0o644); err != nil {
			fatalf("bench: %v", err)
		}
	}
	step("raw results: %s; chart: %s", filepath.Join(o.Out, "latest.json"), o.SVG)
	step("stand-in: %d answers signed ahead in all, in %.0fs, none sent twice", e.presigned, e.presignTime.Seconds())
}

// floorRun runs a floor row in round r.
func (e *env) floorRun(row string, r int) runResult {
	build := rowSpecs[row].build
	bin, err := e.floorBinary(build)
	if err != nil {
		fatalf("bench: %v", err)
	}
	st, err := e.runFloor(bin, e.o.Duration)
	if err != nil {
		fatalf("bench: %v", err)
	}
	e.noteFloor(build, st)
	rr := runResult{Row: row, Phase: "throughput", Round: r, RPS: st.OpsPerS, P50ms: st.P50ms, P99ms: st.P99ms,
		CPUus: st.CPUms * 1000, PeakRSS: st.PeakRSS, Completed: st.Ops, Seconds: st.Seconds,
		AllocsPerReq: st.AllocsPerOp, BytesPerReq: st.BytesPerOp, Check: "ok"}
	if want := map[string]string{"go": "Go crypto/rsa", "openssl": "OpenSSL"}[build]; st.Backend != want {
		rr.Check = fmt.Sprintf("the floor signed with %q, not %s", st.Backend, want)
	}
	return rr
}

func progress(r runResult) {
	extra := ""
	if r.Errors > 0 {
		extra = fmt.Sprintf(" errors=%d (%s)", r.Errors, r.FirstError)
	}
	if r.Pool > 0 {
		extra += fmt.Sprintf(" stand-in %d/%d", r.PoolServed, r.Pool)
	}
	if r.Check != "ok" {
		extra += " CHECK FAILED: " + r.Check
	}
	step("  %-10s %-7s c=%-3d %7.1f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %7.1f µs/req  rss %s%s",
		r.Phase, r.Row, r.Clients, r.RPS, r.P50ms, r.P99ms, r.CPUus, mib(r.PeakRSS), extra)
}

// loadRun readies the stand-in's answers for the row, starts a fresh server
// of the row's kind, checks one request, runs the closed loop and reads the
// process's CPU time and peak RSS.
func (e *env) loadRun(row, phase string, round, clients int, warmup, dur time.Duration) runResult {
	return e.loadRunRate(row, phase, round, clients, warmup, dur, 0)
}

func (e *env) loadRunRate(row, phase string, round, clients int, warmup, dur time.Duration, rate float64) runResult {
	pool := e.standIn(row, clients, warmup+dur)
	s := e.startServer(row)
	defer s.stop()
	client := newClient(clients)
	url := "http://" + s.addr + presignPath
	rr := runResult{Row: row, Phase: phase, Round: round, Clients: clients, Check: "ok", AllocsPerReq: -1, BytesPerReq: -1}
	if err := checkRun(client, row, url, e.upstreamServer(), e.creds); err != nil {
		rr.Check = err.Error()
	} else if msg := s.backendCheck(); msg != "" {
		rr.Check = msg
	}
	var cpu0, cpu1 time.Duration
	var m0, m1 memstats
	st := runLoad(client, url, clients, warmup, dur, window{
		start: func() { m0 = s.memstats(); cpu0 = s.cpu() },
		end:   func() { cpu1 = s.cpu(); m1 = s.memstats() },
		rate:  rate,
	})
	rr.PeakRSS = s.status("VmHWM")
	rr.RPS, rr.P50ms, rr.P99ms = st.RPS, st.P50ms, st.P99ms
	rr.Completed, rr.Errors, rr.FirstError, rr.Seconds = st.Completed, st.Errors, st.FirstError, st.Seconds
	if rr.WarmupErrors = st.WarmupErrors; st.WarmupErrors > 0 && rr.Check == "ok" {
		rr.Check = fmt.Sprintf("%d wrong answers in the warm-up: %s", st.WarmupErrors, st.FirstWarmupError)
	}
	if msg := poolCheck(row, pool); msg != "" {
		rr.Check = msg
	}
	if !pool.IsFixed() {
		rr.Pool, rr.PoolServed = pool.Len(), pool.Served()
	}
	if st.Completed > 0 {
		rr.CPUus = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(st.Completed)
		if m0.ok && m1.ok {
			rr.AllocsPerReq = float64(m1.Mallocs-m0.Mallocs) / float64(st.Completed)
			rr.BytesPerReq = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(st.Completed)
		}
	}
	return rr
}

func (e *env) upstreamServer() *upstream.Server { return e.up }

type memstats struct {
	ok                  bool
	Mallocs, TotalAlloc uint64
	HeapInuse           int64
}

// memstats reads the Go memstats of a Caddy process from the admin
// endpoint's /debug/vars.
func (s *server) memstats() memstats {
	if s.admin == "" {
		return memstats{}
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.admin + "/debug/vars")
	if err != nil {
		return memstats{}
	}
	defer resp.Body.Close()
	var v struct {
		Memstats struct {
			Mallocs    uint64 `json:"Mallocs"`
			TotalAlloc uint64 `json:"TotalAlloc"`
			HeapInuse  int64  `json:"HeapInuse"`
		} `json:"memstats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return memstats{}
	}
	return memstats{ok: true, Mallocs: v.Memstats.Mallocs, TotalAlloc: v.Memstats.TotalAlloc, HeapInuse: v.Memstats.HeapInuse}
}

// claimBytes is what the claims phase's connections claim: max_body's
// default, the largest body the module accepts.
const claimBytes = 1 << 20

// claimsRun opens conns connections that each claim a claimBytes body in
// Content-Length, send 1 KiB of it and stall, and measures how much the
// server's Go heap and RSS grew per stalled request.
func (e *env) claimsRun(row string, conns int, stall time.Duration) claimsResult {
	pool := e.standInN(row, 64) // 20 requests below
	s := e.startServer(row)
	defer s.stop()
	client := newClient(4)
	url := "http://" + s.addr + presignPath
	for range 20 {
		_ = doPresign(client, url, make([]byte, 4096))
	}
	client.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	c := claimsResult{Row: row, Conns: conns, ClaimBytes: claimBytes, SentBytes: 1024}
	c.HeapBase = s.memstats().HeapInuse
	c.RSSBase = s.status("VmRSS")
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		presignPath, s.addr, claimBytes)
	part := make([]byte, 0, 1024)
	part = append(part, `{"appid":"wx8888888888888888","pad":"`...)
	for len(part) < 1024 {
		part = append(part, 'x')
	}
	var mu sync.Mutex
	var open []net.Conn
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte(head))
			_, _ = conn.Write(part)
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(stall * 6 / 10)
	ms := s.memstats()
	c.HeapStall = ms.HeapInuse
	c.RSSStall = s.status("VmRSS")
	time.Sleep(stall * 4 / 10)
	c.PeakRSS = s.status("VmHWM")
	// A connection the server already answered (e.g. 413) did not stall.
	for _, conn := range open {
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if n, _ := conn.Read(b[:]); n > 0 {
			c.Answered++
		}
		conn.Close()
	}
	n := float64(len(open))
	if n > 0 {
		c.HeapPerConn = float64(c.HeapStall-c.HeapBase) / n
		c.RSSPerConn = float64(c.RSSStall-c.RSSBase) / n
	}
	c.Conns = len(open)
	if msg := poolCheck(row, pool); msg != "" {
		fatalf("bench: claims phase, %s: %s", row, msg)
	}
	return c
}

// profileRun runs the row under load while taking a CPU and an allocation
// profile of the server through Caddy's admin endpoint.
func (e *env) profileRun(row string) []string {
	pool := e.standIn(row, e.o.Clients, e.o.Warmup+e.o.ProfileTime)
	s := e.startServer(row)
	defer s.stop()
	dir := filepath.Join(e.o.Out, "profile")
	_ = os.MkdirAll(dir, 0o755)
	secs := int(e.o.ProfileTime/time.Second) - 1
	if secs < 1 {
		secs = 1
	}
	client := newClient(e.o.Clients)
	url := "http://" + s.addr + presignPath
	var wg sync.WaitGroup
	var paths []string
	var pmu sync.Mutex
	st := runLoad(client, url, e.o.Clients, e.o.Warmup, e.o.ProfileTime, window{
		start: func() {
			for _, p := range []string{"profile", "allocs"} {
				path := filepath.Join(dir, fmt.Sprintf("%s-%s.pprof", row, map[string]string{"profile": "cpu", "allocs": "allocs"}[p]))
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := fetch(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", s.admin, p, secs), path, time.Duration(secs+30)*time.Second); err != nil {
						step("profile %s: %v", row, err)
						return
					}
					pmu.Lock()
					paths = append(paths, path)
					pmu.Unlock()
				}()
			}
		},
		end: func() {},
	})
	wg.Wait()
	step("  profiled %-7s %.1f req/s over %ds: %s", row, st.RPS, secs, strings.Join(paths, " "))
	if msg := poolCheck(row, pool); msg != "" || st.Errors > 0 {
		step("  profile of %s: answers wrong (%d errors: %s) %s", row, st.Errors, st.FirstError, msg)
	}
	return paths
}

// rerender prints the table and writes the chart of a saved run.
func rerender(path, svg string) {
	data, err := os.ReadFile(path)
	if err != nil {
		fatalf("bench: %v", err)
	}
	var res results
	if err := json.Unmarshal(data, &res); err != nil {
		fatalf("bench: %s: %v", path, err)
	}
	res.Summary = summarize(res)
	printTable(os.Stdout, res)
	if svg != "" {
		_ = os.MkdirAll(filepath.Dir(svg), 0o755)
		if err := os.WriteFile(svg, []byte(chartSVG(res)), 0o644); err != nil {
			fatalf("bench: %v", err)
		}
		step("chart: %s", svg)
	}
}

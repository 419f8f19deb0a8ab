//go:build linux

package main

import (
	"fmt"
	"time"
)

// soakSample is the server's resident memory at one moment of the soak.
type soakSample struct {
	at  time.Duration
	rss int64 // bytes
}

// soak runs the module under clients closed-loop clients for dur, sampling
// its RSS every 5 s, and reports whether it passed: no error, and RSS flat
// after the first 10 s (the last sample at most 10% or 8 MiB above the
// one at 10 s, whichever is larger). Its answers are signed ahead, one pool
// at one timestamp (standIn), so it lasts at most maxPooledRun.
func (e *env) soak(clients int, dur time.Duration) bool {
	const every = 5 * time.Second
	pool := e.standIn("module", clients, dur)
	s := e.startServer("module")
	defer s.stop()
	client := newClient(clients)
	url := "http://" + s.addr + presignPath
	if err := checkRun(client, "module", url, e.upstreamServer(), e.creds); err != nil {
		fmt.Printf("soak: the module's answers are wrong: %v\n", err)
		return false
	}
	var samples []soakSample
	stop := make(chan struct{})
	done := make(chan struct{})
	var cpu0, cpu1 time.Duration
	start := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				samples = append(samples, soakSample{at: time.Since(start), rss: s.status("VmRSS")})
			}
		}
	}()
	st := runLoad(client, url, clients, 0, dur, window{
		start: func() { cpu0 = s.cpu() },
		end:   func() { cpu1 = s.cpu() },
	})
	close(stop)
	<-done

	fmt.Printf("soak: module, %d closed-loop clients for %s on CPU %d: %d requests, %.1f req/s, p50 %.2f ms, p99 %.2f ms, %d errors, CPU %.0f µs/req, peak RSS %s\n",
		clients, dur, e.o.ServerCPU, st.Completed, st.RPS, st.P50ms, st.P99ms, st.Errors,
		float64(cpu1-cpu0)/float64(time.Microsecond)/float64(max(st.Completed, 1)), mib(s.status("VmHWM")))
	fmt.Print("soak: RSS every 5 s (MiB):")
	for _, x := range samples {
		fmt.Printf(" %.1f", float64(x.rss)/(1<<20))
	}
	fmt.Println()
	ok := st.Errors == 0 && st.Completed > 0
	if !ok {
		fmt.Printf("soak: FAIL: %d errors (first: %s)\n", st.Errors, st.FirstError)
	}
	if msg := poolCheck("module", pool); msg != "" {
		ok = false
		fmt.Printf("soak: FAIL: %s\n", msg)
	}
	if len(samples) >= 3 {
		base, last := samples[1].rss, samples[len(samples)-1].rss
		allowed := max(base/10, 8<<20)
		if last-base > allowed {
			ok = false
			fmt.Printf("soak: FAIL: RSS grew from %s at %s to %s at the end\n", mib(base), samples[1].at.Round(time.Second), mib(last))
		} else {
			fmt.Printf("soak: RSS flat: %s at %s, %s at the end (allowed growth %s)\n", mib(base), samples[1].at.Round(time.Second), mib(last), mib(allowed))
		}
	}
	if ok {
		fmt.Println("soak: PASS")
	}
	return ok
}

package replay

import (
	"crypto/rand"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchNonces are 32-character nonces like WeChat Pay's, made once.
var benchNonces = func() []string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	ns := make([]string, 1<<16)
	buf := make([]byte, 32)
	for i := range ns {
		rand.Read(buf)
		for j, c := range buf {
			buf[j] = alphabet[int(c)%len(alphabet)]
		}
		ns[i] = string(buf)
	}
	return ns
}()

// perSecond is the steady load the benchmarks model: the fake clock moves
// one second every perSecond calls, so a 300 s window holds about
// 300 × perSecond live entries once warm, as at 1,000 answers per second.
const perSecond = 1000

// BenchmarkSeen measures Seen on new triples (the normal case: every response
// is new) in the steady state of perSecond answers per fake second, so
// buckets are made and dropped along the way, and on replays.
//
// "single" is one goroutine; "parallel" is GOMAXPROCS goroutines
// (b.RunParallel), each with its own serial so that triples are unique.
func BenchmarkSeen(b *testing.B) {
	run := func(b *testing.B, parallel, replay bool) {
		var sec atomic.Int64
		sec.Store(base)
		w := New(Config{Now: func() time.Time { return time.Unix(sec.Load(), 0) }})
		var goroutine atomic.Int64
		var fresh atomic.Int64
		body := func(next func() bool) {
			serial := serialCert + strconv.FormatInt(goroutine.Add(1), 10)
			n := int64(0)
			for i := 0; next(); i++ {
				if !replay && i%perSecond == perSecond-1 {
					sec.Add(1) // with P goroutines: once every perSecond calls overall
				}
				nonce := benchNonces[i&(len(benchNonces)-1)]
				if replay {
					nonce = benchNonces[0]
				}
				if w.Seen(serial, sec.Load(), nonce) == Fresh {
					n++
				}
			}
			fresh.Add(n)
		}
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) { body(pb.Next) })
		} else {
			i := 0
			body(func() bool { i++; return i <= b.N })
		}
		b.StopTimer()
		b.ReportMetric(float64(fresh.Load())/float64(b.N), "fresh/op")
		b.ReportMetric(float64(w.Len()), "entries")
	}
	b.Run("single/new", func(b *testing.B) { run(b, false, false) })
	b.Run("parallel/new", func(b *testing.B) { run(b, true, false) })
	b.Run("single/replay", func(b *testing.B) { run(b, false, true) })
	b.Run("parallel/replay", func(b *testing.B) { run(b, true, true) })
}

// BenchmarkMemory fills a Window with n entries spread evenly over the 599
// seconds a 300 s window can hold at once (ts from now-299 to now+299, the
// worst clock offsets, as at the cap), second after second as traffic
// comes, and reports the live heap they take, per entry and in all. At
// n = DefaultMaxEntries that is 1,000 entries per second. One fill per
// iteration; -benchtime=3x is plenty.
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{100_000, DefaultMaxEntries, 1_000_000} {
		b.Run("entries="+strconv.Itoa(n), func(b *testing.B) {
			var perEntry, total float64
			for b.Loop() {
				w, heap := fill(b, n)
				perEntry, total = float64(heap)/float64(n), float64(heap)
				runtime.KeepAlive(w)
			}
			b.ReportMetric(perEntry, "B/entry")
			b.ReportMetric(total/(1<<20), "MiB")
		})
	}
}

// fill returns a Window holding n fresh entries and the heap it grew by.
func fill(b *testing.B, n int) (*Window, uint64) {
	const span = 599 // seconds: ts in [now-299, now+299]
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	w := New(Config{MaxEntries: n, Now: func() time.Time { return time.Unix(base, 0) }})
	for i := range n {
		ts := base - 299 + int64(i*span/n)
		nonce := benchNonces[i&(len(benchNonces)-1)] // unique within a second
		if v := w.Seen(serialKey, ts, nonce); v != Fresh {
			b.Fatalf("entry %d: %v", i, v)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return w, ms.HeapAlloc - before
}

package replay

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// base is an ordinary Unix second for the test clocks.
const base = 1_700_000_000

const (
	serialKey  = "PUB_KEY_ID_0114232134912410000000000000000000"
	serialCert = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	nonceA     = "593BEC0C930BF1AFEB40B4A08C8FB242"
	nonceB     = "AeFTiNb8zW3aVmcpkxgrr2YIv4D7Sk1F"
)

// clock is a settable test clock; safe for concurrent use.
type clock struct{ sec atomic.Int64 }

func newClock(sec int64) *clock {
	c := &clock{}
	c.sec.Store(sec)
	return c
}

func (c *clock) Now() time.Time { return time.Unix(c.sec.Load(), 0) }
func (c *clock) set(sec int64)  { c.sec.Store(sec) }
func (c *clock) add(d int64)    { c.sec.Add(d) }

func newTestWindow(c *clock, window time.Duration, max int) *Window {
	return New(Config{Window: window, MaxEntries: max, Now: c.Now})
}

// step is one call in a scripted test: move the clock to at (absolute
// second), then call Seen and expect want; wantLen >= 0 also checks Len.
type step struct {
	at      int64
	serial  string
	ts      int64
	nonce   string
	want    Verdict
	wantLen int
}

func runSteps(t *testing.T, w *Window, c *clock, steps []step) {
	t.Helper()
	for i, s := range steps {
		c.set(s.at)
		if got := w.Seen(s.serial, s.ts, s.nonce); got != s.want {
			t.Fatalf("step %d: now %d Seen(%q, %d, %q) = %v, want %v", i, s.at, s.serial, s.ts, s.nonce, got, s.want)
		}
		if s.wantLen >= 0 {
			if got := w.Len(); got != s.wantLen {
				t.Fatalf("step %d: Len() = %d, want %d", i, got, s.wantLen)
			}
		}
	}
}

func TestSeen(t *testing.T) {
	const w5 = 5 * time.Minute
	tests := []struct {
		name  string
		steps []step
	}{
		{"first sighting then replay", []step{
			{base, serialKey, base, nonceA, Fresh, 1},
			{base, serialKey, base, nonceA, Replay, 1},
			{base + 10, serialKey, base, nonceA, Replay, 1},
			{base + 299, serialKey, base, nonceA, Replay, 1},
		}},
		{"the triple is the key", []step{
			{base, serialKey, base, nonceA, Fresh, 1},
			{base, serialCert, base, nonceA, Fresh, 2},    // other serial
			{base, serialKey, base + 1, nonceA, Fresh, 3}, // other timestamp
			{base, serialKey, base, nonceB, Fresh, 4},     // other nonce
			{base, serialKey, base, nonceA, Replay, 4},
			{base, serialCert, base, nonceA, Replay, 4},
			{base, serialKey, base + 1, nonceA, Replay, 4},
			{base, serialKey, base, nonceB, Replay, 4},
		}},
		{"serial and nonce do not run into each other", []step{
			{base, "ab", base, "c", Fresh, 1},
			{base, "a", base, "bc", Fresh, 2},
			{base, "", base, "abc", Fresh, 3},
			{base, "abc", base, "", Fresh, 4},
			{base, "", base, "", Fresh, 5},
			{base, "ab", base, "c", Replay, 5},
		}},
		{"past timestamp: kept until now >= ts + window", []step{
			{base, serialKey, base - 299, nonceA, Fresh, 1},
			{base, serialKey, base - 300, nonceB, OutOfWindow, 1},
			{base, serialKey, base - 299, nonceA, Replay, 1},
			{base + 1, serialKey, base - 299, nonceA, OutOfWindow, 0},
		}},
		{"future timestamp: accepted up to now + window - 1, kept until now >= ts + window", []step{
			{base, serialKey, base + 300, nonceA, OutOfWindow, 0},
			{base, serialKey, base + 299, nonceA, Fresh, 1},
			{base + 1, serialKey, base + 299, nonceA, Replay, 1},
			{base + 598, serialKey, base + 299, nonceA, Replay, 1},
			{base + 599, serialKey, base + 299, nonceA, OutOfWindow, 0},
			// Its bucket is gone, the verifier refuses it anyway, and it
			// stays refused: the horizon is now ahead of it.
			{base + 599, serialKey, base + 299, nonceB, OutOfWindow, 0},
		}},
		{"extreme timestamps", []step{
			{base, serialKey, math.MinInt64, nonceA, OutOfWindow, 0},
			{base, serialKey, math.MaxInt64, nonceA, OutOfWindow, 0},
			{base, serialKey, 0, nonceA, OutOfWindow, 0},
			{base, serialKey, -base, nonceA, OutOfWindow, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(base)
			runSteps(t, newTestWindow(c, w5, 0), c, tt.steps)
		})
	}
}

// TestBoundary checks the expiry rule at its edges for every offset of the
// timestamp from now, both directions, on a small window: an entry recorded
// at now0 for ts is a replay while now < ts + window and gone (out of the
// window, not recorded) from now = ts + window on.
func TestBoundary(t *testing.T) {
	const win = 7
	for off := int64(-win - 1); off <= win+1; off++ {
		c := newClock(base)
		w := newTestWindow(c, win*time.Second, 0)
		ts := base + off
		got := w.Seen(serialKey, ts, nonceA)
		if off <= -win || off >= win {
			if got != OutOfWindow {
				t.Fatalf("offset %d: Seen = %v, want out_of_window", off, got)
			}
			continue
		}
		if got != Fresh {
			t.Fatalf("offset %d: Seen = %v, want fresh", off, got)
		}
		for now := int64(base); now <= ts+win+1; now++ {
			c.set(now)
			want, wantLen := Replay, 1
			if now >= ts+win {
				want, wantLen = OutOfWindow, 0
			}
			if got := w.Seen(serialKey, ts, nonceA); got != want {
				t.Fatalf("offset %d, now = ts%+d: Seen = %v, want %v", off, now-ts, got, want)
			}
			if got := w.Len(); got != wantLen {
				t.Fatalf("offset %d, now = ts%+d: Len = %d, want %d", off, now-ts, got, wantLen)
			}
		}
	}
}

func TestWindowRounding(t *testing.T) {
	tests := []struct {
		window time.Duration
		want   int64
	}{
		{0, 300},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{5 * time.Minute, 300},
		{10 * time.Minute, 600},
	}
	for _, tt := range tests {
		if got := New(Config{Window: tt.window}).window; got != tt.want {
			t.Errorf("Window %v: %d s, want %d s", tt.window, got, tt.want)
		}
	}
	if got := New(Config{}).max; got != DefaultMaxEntries {
		t.Errorf("default MaxEntries %d, want %d", got, DefaultMaxEntries)
	}
}

func TestNewPanics(t *testing.T) {
	for _, c := range []Config{{Window: -time.Second}, {MaxEntries: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", c)
				}
			}()
			New(c)
		}()
	}
}

func TestDefaultClock(t *testing.T) {
	w := New(Config{})
	ts := time.Now().Unix()
	if got := w.Seen(serialKey, ts, nonceA); got != Fresh {
		t.Fatalf("Seen = %v, want fresh", got)
	}
	if got := w.Seen(serialKey, ts, nonceA); got != Replay {
		t.Fatalf("Seen = %v, want replay", got)
	}
}

// TestBucketsDropped fills many seconds and checks that Len falls, and the
// buckets and heap empty, as the clock passes each second's expiry.
func TestBucketsDropped(t *testing.T) {
	const win, perSecond = 60, 50
	c := newClock(base)
	w := newTestWindow(c, win*time.Second, 0)
	for ts := int64(base - win + 1); ts < base+win; ts++ {
		for i := range perSecond {
			if v := w.Seen(serialKey, ts, strconv.Itoa(i)); v != Fresh {
				t.Fatalf("ts %d nonce %d: %v", ts, i, v)
			}
		}
	}
	total := (2*win - 1) * perSecond
	if got := w.Len(); got != total {
		t.Fatalf("Len = %d, want %d", got, total)
	}
	for now := int64(base + 1); now <= base+2*win; now++ {
		c.set(now)
		// live: ts in (now - win, base + win)
		want := max(0, int(base+win-(now-win+1))) * perSecond
		if got := w.Len(); got != want {
			t.Fatalf("now base%+d: Len = %d, want %d", now-base, got, want)
		}
		// Each live second has a bucket in at least one shard, at most in all.
		if got, secs := w.buckets(), want/perSecond; got < secs || got > secs*numShards {
			t.Fatalf("now base%+d: %d buckets for %d live seconds", now-base, got, secs)
		}
	}
	if got := w.buckets(); got != 0 {
		t.Fatalf("%d buckets left after every timestamp expired", got)
	}
	for i := range w.shards {
		if n := len(w.shards[i].order); n != 0 {
			t.Fatalf("shard %d: heap holds %d timestamps", i, n)
		}
	}
}

// buckets returns the number of buckets over all shards.
func (w *Window) buckets() int {
	n := 0
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		if len(s.buckets) != len(s.order) {
			panic(fmt.Sprintf("shard %d: %d buckets, %d in the heap", i, len(s.buckets), len(s.order)))
		}
		s.mu.Unlock()
	}
	return n
}

func TestFull(t *testing.T) {
	c := newClock(base)
	w := newTestWindow(c, 10*time.Second, 3)
	runSteps(t, w, c, []step{
		{base, serialKey, base - 5, "1", Fresh, 1},
		{base, serialKey, base, "2", Fresh, 2},
		{base, serialKey, base + 5, "3", Fresh, 3},
		{base, serialKey, base, "4", Full, 3},
		// Replays are still detected at the cap, and a refused triple was
		// not recorded.
		{base, serialKey, base - 5, "1", Replay, 3},
		{base, serialKey, base + 5, "3", Replay, 3},
		{base, serialKey, base, "4", Full, 3},
		{base + 4, serialKey, base, "4", Full, 3},
		// base-5's bucket expires at base+5: room for one.
		{base + 5, serialKey, base, "4", Fresh, 3},
		{base + 5, serialKey, base + 1, "5", Full, 3},
		{base + 5, serialKey, base, "2", Replay, 3},
		{base + 10, serialKey, base + 1, "5", Fresh, 2},
		{base + 14, serialKey, base + 5, "3", Replay, 1},
		{base + 15, serialKey, base + 6, "6", Fresh, 1},
	})
	st := w.Stats()
	want := Stats{Entries: 1, MaxEntries: 3, Fresh: 6, Replays: 4, Full: 4}
	if st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
}

// TestFullSweepsOtherShards: the cap counts entries of every shard; expired
// entries in a shard no call touched must not keep a new triple out.
func TestFullSweepsOtherShards(t *testing.T) {
	c := newClock(base)
	w := newTestWindow(c, 10*time.Second, 100)
	for i := range 100 {
		if v := w.Seen(serialKey, base, strconv.Itoa(i)); v != Fresh {
			t.Fatalf("nonce %d: %v", i, v)
		}
	}
	c.set(base + 10) // every entry expired, no shard has dropped anything
	for i := range 100 {
		if v := w.Seen(serialKey, base+10, "new"+strconv.Itoa(i)); v != Fresh {
			t.Fatalf("new nonce %d: %v", i, v)
		}
	}
	if got := w.Stats().Full; got != 0 {
		t.Fatalf("%d refusals for full", got)
	}
}

// TestClockBackwards: a clock set back keeps every live entry (replays are
// still caught, nothing is dropped), refuses the timestamps it may have
// forgotten, and stays within the cap.
func TestClockBackwards(t *testing.T) {
	c := newClock(base)
	w := newTestWindow(c, 300*time.Second, 4)
	runSteps(t, w, c, []step{
		{base, serialKey, base - 100, "a", Fresh, 1},
		{base, serialKey, base, "b", Fresh, 2},
		{base, serialKey, base + 100, "c", Fresh, 3},
		// 200 s back: nothing is forgotten.
		{base - 200, serialKey, base - 100, "a", Replay, 3},
		{base - 200, serialKey, base, "b", Replay, 3},
		{base - 200, serialKey, base + 99, "c", Fresh, 4}, // within the window at base-200
		{base - 200, serialKey, base + 100, "c", OutOfWindow, 4},
		{base - 200, serialKey, base - 400, "d", Full, 4},
		// Forward to base + 300: the buckets of base-100 and base go.
		{base + 300, serialKey, base + 100, "c", Replay, 2},
		{base + 300, serialKey, base + 100, "e", Fresh, 3},
		// Forward to base + 399 (base+99's bucket goes), then back to base:
		// timestamps up to the newest dropped one are refused as forgotten.
		{base + 399, serialKey, base + 200, "f", Fresh, 3},
		{base, serialKey, base + 99, "c", Forgotten, 3},
		{base, serialKey, base - 100, "a", Forgotten, 3},
		{base, serialKey, base + 98, "g", Forgotten, 3},
		{base, serialKey, base + 100, "c", Replay, 3},
		{base, serialKey, base + 100, "h", Fresh, 4},
		{base, serialKey, base + 101, "i", Full, 4},
	})
	if st := w.Stats(); st.Forgotten != 3 {
		t.Fatalf("Forgotten = %d, want 3", st.Forgotten)
	}
}

// TestClockForwardGlitch: a clock that runs a year ahead for a moment drops
// everything; back on time, the window refuses timestamps only up to the
// newest one it had stored before, not for a year. What it stored during the
// glitch stays until the clock reaches it (bounded by the cap).
func TestClockForwardGlitch(t *testing.T) {
	const year = 365 * 24 * 3600
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing stored during the glitch", []step{
			{base, serialKey, base, "a", Fresh, 1},
			{base + 2, serialKey, base + 2, "b", Fresh, 2},
			{base + year, serialKey, base, "y", OutOfWindow, 0},
			{base + 3, serialKey, base, "a", Forgotten, 0},
			{base + 3, serialKey, base + 2, "b", Forgotten, 0},
			{base + 3, serialKey, base + 3, "c", Fresh, 1},
			{base + 3, serialKey, base + 3, "c", Replay, 1},
		}},
		{"stored during the glitch", []step{
			{base, serialKey, base, "a", Fresh, 1},
			{base + 2, serialKey, base + 2, "b", Fresh, 2},
			{base + year, serialKey, base + year, "x", Fresh, 1},
			{base + 3, serialKey, base + 2, "b", Forgotten, 1},
			{base + 3, serialKey, base + 3, "c", Fresh, 2},
			{base + 3, serialKey, base + 3, "c", Replay, 2},
			{base + year + 299, serialKey, base + year, "x", Replay, 1},
			{base + year + 300, serialKey, base + year + 300, "x", Fresh, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(base)
			runSteps(t, newTestWindow(c, 300*time.Second, 0), c, tt.steps)
		})
	}
}

// Len returns the number of live entries (Stats().Entries), for the tests.
func (w *Window) Len() int { return w.Stats().Entries }

func TestStats(t *testing.T) {
	c := newClock(base)
	w := newTestWindow(c, 5*time.Minute, 2)
	w.Seen(serialKey, base, nonceA)
	w.Seen(serialKey, base, nonceA)
	w.Seen(serialKey, base, nonceB)
	w.Seen(serialKey, base, "third")
	w.Seen(serialKey, base-300, nonceA)
	c.set(base + 300)
	w.Seen(serialKey, base+300, nonceA)
	c.set(base)
	w.Seen(serialKey, base, "late")
	want := Stats{Entries: 1, MaxEntries: 2, Fresh: 3, Replays: 1, Full: 1, OutOfWindow: 1, Forgotten: 1}
	if got := w.Stats(); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{
		0: "verdict(0)", Fresh: "fresh", Replay: "replay", Full: "full",
		OutOfWindow: "out_of_window", Forgotten: "forgotten", 42: "verdict(42)",
	} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", v, got, want)
		}
	}
}

// TestConcurrent: many goroutines offer overlapping triples while the clock
// moves (within the window); each triple is fresh exactly once across all of them, and the
// counters add up. Run with -race.
func TestConcurrent(t *testing.T) {
	const (
		goroutines = 16
		triples    = 4000
		win        = 30
	)
	c := newClock(base)
	w := newTestWindow(c, win*time.Second, 0)
	var fresh [triples]atomic.Int32
	var start, done sync.WaitGroup
	start.Add(1)
	for g := range goroutines {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			for k := range triples {
				i := (k*7 + g*131) % triples // each goroutine its own order
				serial := serialKey
				if i%3 == 0 {
					serial = serialCert
				}
				switch v := w.Seen(serial, base+int64(i%11), "n"+strconv.Itoa(i/2)); v {
				case Fresh:
					fresh[i].Add(1)
				case Replay:
				default:
					t.Errorf("triple %d: %v", i, v)
				}
				if k%500 == 0 {
					if g == 0 {
						// The clock moves on under Seen (8 s in all,
						// never far enough to expire a triple of the
						// 30 s window): each Seen reads a new now.
						c.add(1)
					}
					_ = w.Len()
				}
			}
		}()
	}
	start.Done()
	done.Wait()
	for i := range fresh {
		if n := fresh[i].Load(); n != 1 {
			t.Errorf("triple %d fresh %d times", i, n)
		}
	}
	st := w.Stats()
	if st.Entries != triples || st.Fresh != triples || st.Replays != triples*(goroutines-1) {
		t.Fatalf("Stats = %+v", st)
	}
	c.set(base + 10 + win)
	if n := w.Len(); n != 0 {
		t.Fatalf("Len after expiry = %d", n)
	}
}

// TestConcurrentFull: at the cap, concurrent callers never push the count
// past it, and exactly MaxEntries distinct triples get in.
func TestConcurrentFull(t *testing.T) {
	const goroutines, each, max = 8, 500, 1000
	c := newClock(base)
	w := newTestWindow(c, time.Minute, max)
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if w.Seen(serialKey, base, strconv.Itoa(g)+"/"+strconv.Itoa(i)) == Fresh {
					fresh.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	st := w.Stats()
	if fresh.Load() != max || st.Entries != max || st.Full != goroutines*each-max {
		t.Fatalf("fresh %d, Stats %+v", fresh.Load(), st)
	}
}

package replay

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// triple is the reference model's key: the strings themselves, no hash.
type triple struct {
	serial string
	ts     int64
	nonce  string
}

// model is the reference the fuzz target holds a Window to: a map of every
// recorded triple, expired by the rule the package documents, and nothing
// else (no shards, buckets, heaps or hashes).
type model struct {
	window, max int64
	entries     map[triple]bool
	horizon     int64 // highest timestamp dropped so far
	stats       Stats
}

func newModel(window, max int64) *model {
	return &model{window: window, max: max, entries: map[triple]bool{}, horizon: math.MinInt64,
		stats: Stats{MaxEntries: int(max)}}
}

// expire drops every triple with ts <= now - window.
func (m *model) expire(now int64) {
	for k := range m.entries {
		if k.ts <= now-m.window {
			delete(m.entries, k)
			m.horizon = max(m.horizon, k.ts)
		}
	}
}

func (m *model) seen(now int64, k triple) Verdict {
	// now is a test clock near base, so now ± window cannot overflow.
	if k.ts <= now-m.window || k.ts >= now+m.window {
		m.stats.OutOfWindow++
		return OutOfWindow
	}
	m.expire(now)
	switch {
	case k.ts <= m.horizon:
		m.stats.Forgotten++
		return Forgotten
	case m.entries[k]:
		m.stats.Replays++
		return Replay
	case int64(len(m.entries)) >= m.max:
		m.stats.Full++
		return Full
	}
	m.entries[k] = true
	m.stats.Fresh++
	return Fresh
}

func (m *model) len(now int64) int {
	m.expire(now)
	return len(m.entries)
}

// check verifies the Window's internal invariants: each shard's heap is a
// heap holding exactly its bucket keys, no bucket is empty, every hash sits
// in its shard, and count is the sum of the bucket sizes.
func (w *Window) check() error {
	var total int64
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		if len(s.order) != len(s.buckets) {
			s.mu.Unlock()
			return fmt.Errorf("shard %d: %d buckets, heap of %d", i, len(s.buckets), len(s.order))
		}
		for j, ts := range s.order {
			if j > 0 && s.order[(j-1)/2] > ts {
				s.mu.Unlock()
				return fmt.Errorf("shard %d: heap order broken at %d", i, j)
			}
			b, ok := s.buckets[ts]
			if !ok || len(b) == 0 {
				s.mu.Unlock()
				return fmt.Errorf("shard %d: heap key %d: bucket present %v, %d entries", i, ts, ok, len(b))
			}
			for h := range b {
				if int(h>>(64-shardBits)) != i {
					s.mu.Unlock()
					return fmt.Errorf("shard %d holds hash %#x", i, h)
				}
			}
			total += int64(len(b))
		}
		s.mu.Unlock()
	}
	if c := w.count.Load(); c != total {
		return fmt.Errorf("count %d, buckets hold %d", c, total)
	}
	return nil
}

var (
	fuzzSerials = [...]string{serialKey, serialCert}
	fuzzNonces  = [...]string{nonceA, nonceB, "", "x"}
)

// FuzzWindow drives a Window and the reference model with the same calls
// and clock and requires the same verdicts, Len and Stats.
//
// window and capacity pick a window of 1-16 s and a cap of 1-32 entries, so
// that expiry and the cap are reached quickly. ops is read two bytes at a
// time, an opcode o and an argument a:
//
//	o&3 == 0: move the clock by int8(a) seconds, by int8(a)*1000 if o&4
//	o&3 == 1, 2: Seen(serial o>>2&1, now + int8(a) mod (window+2), nonce o>>3&3),
//	          or with timestamp MinInt64 / MaxInt64 / 0 if o>>5 is 5 / 6 / 7
//	o&3 == 3: compare Len and check the invariants
func FuzzWindow(f *testing.F) {
	f.Add(uint8(4), uint8(3), []byte{1, 0, 1, 0, 3, 0, 0, 4, 1, 0, 3, 0})
	// Fill to the cap, replay at the cap, expire, refill.
	f.Add(uint8(2), uint8(1), []byte{1, 0, 5, 0, 9, 0, 1, 0, 0, 1, 9, 0, 0, 2, 9, 0, 3, 0})
	// Future-dated timestamp kept until ts + window.
	f.Add(uint8(5), uint8(31), []byte{1, 5, 0, 5, 1, 5, 0, 5, 1, 5, 3, 0})
	// Clock forward past everything, back again: forgotten.
	f.Add(uint8(9), uint8(31), []byte{1, 0, 1, 3, 0, 30, 1, 0, 0, 226, 1, 0, 1, 3, 2, 4, 3, 0})
	// Big jumps and extreme timestamps.
	f.Add(uint8(0), uint8(7), []byte{1, 250, 4, 127, 161, 0, 193, 0, 225, 0, 4, 129, 2, 0, 3, 0})
	f.Fuzz(func(t *testing.T, window, capacity uint8, ops []byte) {
		runOps(t, window, capacity, ops)
	})
}

// runOps is FuzzWindow's body; it returns the final Stats.
func runOps(t *testing.T, window, capacity uint8, ops []byte) Stats {
	win, maxEntries := int64(window%16)+1, int64(capacity%32)+1
	c := newClock(base)
	w := newTestWindow(c, time.Duration(win)*time.Second, int(maxEntries))
	m := newModel(win, maxEntries)
	for i := 0; i+1 < len(ops); i += 2 {
		o, a := ops[i], ops[i+1]
		now := c.sec.Load()
		switch o & 3 {
		case 0:
			d := int64(int8(a))
			if o&4 != 0 {
				d *= 1000
			}
			c.add(d)
		case 1, 2:
			k := triple{serial: fuzzSerials[o>>2&1], nonce: fuzzNonces[o>>3&3],
				ts: now + int64(int8(a))%(win+2)}
			switch o >> 5 {
			case 5:
				k.ts = math.MinInt64
			case 6:
				k.ts = math.MaxInt64
			case 7:
				k.ts = 0
			}
			want := m.seen(now, k)
			if got := w.Seen(k.serial, k.ts, k.nonce); got != want {
				t.Fatalf("op %d: now base%+d Seen(%q, base%+d, %q) = %v, model says %v",
					i/2, now-base, k.serial, k.ts-base, k.nonce, got, want)
			}
		case 3:
			if got, want := w.Len(), m.len(now); got != want {
				t.Fatalf("op %d: now base%+d Len = %d, model says %d", i/2, now-base, got, want)
			}
			if err := w.check(); err != nil {
				t.Fatalf("op %d: %v", i/2, err)
			}
		}
	}
	now := c.sec.Load()
	m.expire(now)
	want := m.stats
	want.Entries = len(m.entries)
	if got := w.Stats(); got != want {
		t.Fatalf("Stats = %+v, model says %+v", got, want)
	}
	if err := w.check(); err != nil {
		t.Fatal(err)
	}
	return want
}

// Package replay remembers the signed responses and callbacks WeChat Pay sent
// while their signature is still acceptable, so that a recorded response or
// callback replayed inside that time is recognised as a second sighting.
//
// WeChat Pay signs every response and callback over Wechatpay-Timestamp,
// Wechatpay-Nonce and the body, and the verifier accepts a signature while
// |now - timestamp| < 300 s (whole seconds). Anyone who recorded traffic can
// therefore play a signed message again for up to 5 minutes after its
// timestamp, and for up to 10 minutes when its timestamp lies in the future.
// A [Window] closes that gap: it remembers every (serial, timestamp, nonce)
// triple accepted inside the window and reports the second one as [Replay].
//
// # Layout
//
// Entries are grouped in buckets of one timestamp second. A bucket is dropped
// as a whole once every timestamp in it is out of the window (now >= ts +
// window), so expiry costs O(1) amortised per entry: no timer per entry, no
// scan of live entries. The buckets live in shards chosen by the key's hash,
// each with its own mutex, bucket index and min-heap of bucket timestamps;
// the only state shared between shards is a handful of atomic integers.
//
// # Keys and the collision rate
//
// The timestamp is kept exactly (it names the bucket). The (serial, nonce)
// pair is reduced to 64 bits: maphash.String(seed1, serial) XOR
// maphash.String(seed2, nonce) ([hash/maphash]), with two seeds drawn at
// random when the Window is made, so the values differ from process to
// process and cannot be predicted by a sender. With independent seeds two
// different pairs collide with probability 2^-64 whether they differ in the
// serial, the nonce or both (swapping serial and nonce gives another value),
// and no encoding of the pair into one string is needed: two short hashes
// cost less than building and hashing the concatenation. Storing the strings
// instead (up to ~64 + 32 bytes plus two string headers) would cost several
// times the ~38 bytes an entry takes now.
//
// A collision between two different pairs matters only inside the same
// timestamp second, and shows as a false [Replay]: a genuine response refused.
// With n responses in one second the chance that any two of them collide is
// about n²/2 / 2^64: for n = 1,000 that is 2.7e-14 per second, about 8.5e-7
// per year of traffic at a sustained 1,000 responses per second; the chance
// that a given response is refused is n / 2^64 = 5.4e-17. Even if every one of
// 10^6 live entries shared the same second the chance of any collision would
// be 10^12/2 / 2^64 = 2.7e-8. A 128-bit key (say a SHA-256 prefix) would
// double the key storage and cost a cryptographic hash per call for no
// practical gain. maphash is not a cryptographic hash: the nonces it sees are
// chosen and signed by WeChat Pay (the caller checks the signature first),
// and its seed is secret, so nobody can aim for a collision.
//
// # Clocks
//
// The clock is read once per call and its Unix second is used, as the
// verifier does. Entries are only ever dropped by the current clock (a bucket
// for ts goes once now >= ts + window), so a clock that jumps backwards never
// makes the window forget a live entry; the entries stored before the jump
// simply live longer, within the MaxEntries cap.
//
// What a backwards jump could do is revive timestamps whose buckets were
// already dropped under the later clock. The Window therefore keeps a
// horizon: the highest timestamp of any bucket it dropped. A timestamp at or
// below the horizon is refused as [Forgotten] rather than accepted as new.
// With a steadily advancing clock the horizon is below now - window and
// Forgotten never happens (such timestamps are [OutOfWindow]). After a clock
// that ran fast (by any amount) and was set back, Forgotten refuses only the
// timestamps up to the newest one dropped under the fast clock, which is
// below the fast clock's now - window and no newer than what WeChat Pay had
// signed by then: genuine responses, whose timestamps come from WeChat Pay's
// clock, are refused for at most a window's length and usually not at all.
// Entries stored while the clock was fast stay until the clock reaches their
// expiry, counted against MaxEntries like any other.
//
// Every call that reads a clock second different from the previous sweep's
// drops the expired buckets of all shards (a sweep: one lock per shard and
// the dropped buckets), so which buckets are gone, the horizon and Stats().Entries
// depend only on the sequence of calls and clock readings, not on which
// shards the keys fell in.
package replay

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWindow is the window a zero Config.Window stands for: the 5 minutes
// WeChat Pay and the verifier allow between a signature's timestamp and now.
const DefaultWindow = 5 * time.Minute

// DefaultMaxEntries is the cap a zero Config.MaxEntries stands for.
//
// An entry for timestamp ts lives until now >= ts + window, and the verifier
// accepts ts up to now + window: an entry can live for almost twice the
// window. At a sustained 1,000 verified responses and callbacks per second per
// Caddy instance (far more than a merchant's proxy sees; each costs ~1 ms of
// RSA work) and the default 300 s window, that is at most 1,000 × 600 =
// 600,000 live entries, whatever the offset between WeChat Pay's clock and
// ours; with the clocks in step it is half that. At the ~38 bytes of heap an
// entry takes at that rate (BenchmarkMemory: 32-44 bytes from 100,000 to
// 1,000,000 entries, Go maps of 8-byte keys), a full Window holds about
// 22 MiB.
const DefaultMaxEntries = 600_000

// numShards is the number of independently locked parts of a Window, a
// power of two. More shards mean smaller one-second maps, which cost more
// per entry: BenchmarkMemory at 600,000 entries measured 37, 38, 38 and 42
// bytes per entry with 1, 4, 16 and 64 shards. On the 2-CPU machine it was
// measured on, BenchmarkSeen/parallel could not tell 1 shard from 16; 16 is
// a hedge for hosts with many cores serving verified responses at once.
const (
	shardBits = 4
	numShards = 1 << shardBits
)

// Verdict is what [Window.Seen] found. The zero Verdict is none of the
// defined ones; only [Fresh] means the response may be accepted.
type Verdict uint8

const (
	// Fresh: the triple was not seen inside the window; it is now recorded.
	// The only verdict under which the caller accepts the response.
	Fresh Verdict = iota + 1
	// Replay: the same (serial, timestamp, nonce) was already seen inside
	// the window. The response or callback is a replay (or, with probability
	// given in the package documentation, a hash collision).
	Replay
	// Full: the triple is new but the Window holds MaxEntries live entries.
	// Nothing is evicted early and nothing is recorded: the caller refuses
	// the response (fail closed) and should log and count it, since it means
	// the cap is too small for the traffic or someone floods verified
	// messages.
	Full
	// OutOfWindow: |now - timestamp| >= window. Nothing is recorded; the
	// verifier refuses such a timestamp anyway.
	OutOfWindow
	// Forgotten: the timestamp is inside the window by the current clock,
	// but not newer than a bucket the Window already dropped under a later
	// clock reading: the clock went backwards. Nothing is recorded and the
	// caller refuses the response, since a replay could not be told apart.
	Forgotten
)

// String returns the verdict's name in lower case ("fresh", "replay",
// "full", "out_of_window", "forgotten"), suitable for a log field or a metric
// label.
func (v Verdict) String() string {
	switch v {
	case Fresh:
		return "fresh"
	case Replay:
		return "replay"
	case Full:
		return "full"
	case OutOfWindow:
		return "out_of_window"
	case Forgotten:
		return "forgotten"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Config sets up a [Window]. Its zero value is usable: a 5-minute window,
// DefaultMaxEntries and time.Now.
type Config struct {
	// Window is how long after (and before) its timestamp a triple is
	// remembered: an entry for timestamp ts is kept until now >= ts + Window.
	// It must be at least the verifier's maximum skew (a timestamp is
	// accepted while |now - ts| < skew), or replays slip through between the
	// two. Rounded up to whole seconds. Zero means DefaultWindow; negative
	// panics.
	Window time.Duration
	// MaxEntries caps the number of live entries; a new triple beyond it is
	// refused as Full. Zero means DefaultMaxEntries; negative panics.
	MaxEntries int
	// Now is the clock; nil means time.Now. Only its Unix second is used. It
	// must be safe for concurrent calls.
	Now func() time.Time
}

// Window remembers the (serial, timestamp, nonce) triples of signed responses
// and callbacks while their timestamps are inside the window, and reports a
// second sighting. It is safe for concurrent use by many goroutines.
//
// A Window holds no reference to any configuration and needs no closing: one
// Window per process can outlive any number of config reloads (keep it in a
// package-level variable). Dropping the last reference frees it.
type Window struct {
	window int64 // seconds, >= 1
	max    int64
	now    func() time.Time
	// seeds of the serial and nonce hashes; see hash.
	serialSeed, nonceSeed maphash.Seed

	// count is the number of stored entries over all shards, including
	// expired ones a shard has not dropped yet.
	count atomic.Int64
	// horizon is the highest timestamp of a dropped bucket (math.MinInt64
	// before the first drop). A shard raises it, under its lock, before it
	// drops the bucket; Seen refuses a timestamp <= horizon as Forgotten.
	horizon atomic.Int64
	// swept is the clock second of the last completed sweep.
	swept       atomic.Int64
	outOfWindow atomic.Uint64

	shards [numShards]shard
}

// shard is one independently locked part of a Window.
type shard struct {
	mu sync.Mutex
	// buckets maps a timestamp second to the set of key hashes stored for it.
	buckets map[int64]map[uint64]struct{}
	// order holds the keys of buckets as a min-heap, so the oldest bucket is
	// found in O(1) and removed in O(log buckets).
	order []int64
	// made is the timestamp of the bucket made last (it may be gone).
	made int64

	fresh, replays, full, forgotten uint64

	_ [64]byte // keeps neighbouring shards' hot fields off one cache line
}

// New returns an empty Window set up by c. It panics if c.Window or
// c.MaxEntries is negative.
func New(c Config) *Window {
	if c.Window < 0 {
		panic("replay: negative Config.Window " + c.Window.String())
	}
	if c.MaxEntries < 0 {
		panic("replay: negative Config.MaxEntries " + strconv.Itoa(c.MaxEntries))
	}
	w := &Window{window: int64(DefaultWindow / time.Second), max: DefaultMaxEntries, now: time.Now,
		serialSeed: maphash.MakeSeed(), nonceSeed: maphash.MakeSeed()}
	if c.Window > 0 {
		w.window = int64(c.Window / time.Second)
		if c.Window%time.Second != 0 {
			w.window++
		}
	}
	if c.MaxEntries > 0 {
		w.max = int64(c.MaxEntries)
	}
	if c.Now != nil {
		w.now = c.Now
	}
	w.reset()
	return w
}

// Seen checks whether the triple (serial, timestamp, nonce) was seen inside
// the window and records it if not, in one atomic step: of any number of
// calls with the same triple, concurrent or not, at most one gets [Fresh]
// while the triple is remembered. timestamp is Wechatpay-Timestamp in Unix
// seconds, serial and nonce the Wechatpay-Serial and Wechatpay-Nonce values
// as the verifier used them.
//
// Call it only after the signature verified, so that unauthenticated senders
// cannot fill the Window, and accept the message only when the verdict is
// Fresh. The verdicts are checked in this order: [OutOfWindow], [Forgotten],
// [Replay], [Full]: a replay is reported as such even when the Window is
// full.
func (w *Window) Seen(serial string, timestamp int64, nonce string) Verdict {
	now := w.now().Unix()
	if timestamp <= subSat(now, w.window) || timestamp >= addSat(now, w.window) {
		w.outOfWindow.Add(1)
		return OutOfWindow
	}
	if w.swept.Load() != now {
		w.sweep(now) // about once a second, with a steady clock
	}
	h := w.hash(serial, nonce)
	s := &w.shards[h>>(64-shardBits)]
	s.mu.Lock()
	v := w.seenLocked(s, now, timestamp, h)
	if v == Full {
		// A concurrent call may be sweeping, or a shard may not have been
		// swept yet at this second: sweep everywhere, then look again.
		// Only when full.
		s.mu.Unlock()
		w.sweep(now)
		s.mu.Lock()
		v = w.seenLocked(s, now, timestamp, h)
	}
	switch v {
	case Fresh:
		s.fresh++
	case Replay:
		s.replays++
	case Full:
		s.full++
	case Forgotten:
		s.forgotten++
	}
	s.mu.Unlock()
	return v
}

// seenLocked is Seen for a timestamp inside the window, with s locked.
func (w *Window) seenLocked(s *shard, now, ts int64, h uint64) Verdict {
	w.expire(s, now)
	if ts <= w.horizon.Load() {
		return Forgotten
	}
	b := s.buckets[ts]
	if _, ok := b[h]; ok {
		return Replay
	}
	for c := w.count.Load(); ; c = w.count.Load() {
		if c >= w.max {
			return Full
		}
		if w.count.CompareAndSwap(c, c+1) {
			break
		}
	}
	if b == nil {
		// Sized like the bucket made before it: under a steady load each
		// second brings about as many responses, and the map need not grow.
		// After a burst one map per shard may be oversized, for a window.
		b = make(map[uint64]struct{}, len(s.buckets[s.made]))
		s.buckets[ts] = b
		s.push(ts)
		s.made = ts
	}
	b[h] = struct{}{}
	return Fresh
}

// expire drops the buckets of s whose timestamps are all out of the window
// at now (ts <= now - window), raising the horizon first. s is locked.
func (w *Window) expire(s *shard, now int64) {
	limit := subSat(now, w.window)
	for len(s.order) > 0 && s.order[0] <= limit {
		ts := s.pop()
		for h := w.horizon.Load(); ts > h && !w.horizon.CompareAndSwap(h, ts); h = w.horizon.Load() {
		}
		w.count.Add(-int64(len(s.buckets[ts])))
		delete(s.buckets, ts)
	}
}

// sweep expires every shard at now, one at a time, and records now as
// swept. Concurrent sweeps are harmless.
func (w *Window) sweep(now int64) {
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		w.expire(s, now)
		s.mu.Unlock()
	}
	w.swept.Store(now)
}

// hash reduces (serial, nonce) to 64 bits, each string hashed with its own
// random seed (see the package documentation for the collision rate).
func (w *Window) hash(serial, nonce string) uint64 {
	return maphash.String(w.serialSeed, serial) ^ maphash.String(w.nonceSeed, nonce)
}

// Stats is a snapshot of a Window's size and of the verdicts it gave, for
// logs and metrics. The counters count calls to Seen since New.
type Stats struct {
	Entries     int    // live entries: the triples recorded whose timestamps are still inside the window
	MaxEntries  int    // the cap
	Fresh       uint64 // triples recorded
	Replays     uint64 // second sightings refused
	Full        uint64 // new triples refused because Entries was at MaxEntries
	OutOfWindow uint64 // timestamps out of the window, not recorded
	Forgotten   uint64 // timestamps refused after the clock went backwards
}

// Stats returns the current Stats. It drops expired buckets first, in every
// shard.
// The counters are read shard by shard, so under concurrent calls they need
// not add up to one instant.
func (w *Window) Stats() Stats {
	w.sweep(w.now().Unix())
	st := Stats{MaxEntries: int(w.max), OutOfWindow: w.outOfWindow.Load()}
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		st.Fresh += s.fresh
		st.Replays += s.replays
		st.Full += s.full
		st.Forgotten += s.forgotten
		s.mu.Unlock()
	}
	st.Entries = int(w.count.Load())
	return st
}

// reset empties w, which the caller owns alone.
func (w *Window) reset() {
	for i := range w.shards {
		s := &w.shards[i]
		s.buckets = make(map[int64]map[uint64]struct{})
		s.order = nil
		s.made = 0
		s.fresh, s.replays, s.full, s.forgotten = 0, 0, 0, 0
	}
	w.count.Store(0)
	w.horizon.Store(math.MinInt64)
	w.swept.Store(math.MinInt64)
	w.outOfWindow.Store(0)
}

// push adds ts to the min-heap s.order.
func (s *shard) push(ts int64) {
	s.order = append(s.order, ts)
	for i := len(s.order) - 1; i > 0; {
		p := (i - 1) / 2
		if s.order[p] <= s.order[i] {
			break
		}
		s.order[p], s.order[i] = s.order[i], s.order[p]
		i = p
	}
}

// pop removes and returns the smallest timestamp of the min-heap s.order.
func (s *shard) pop() int64 {
	top := s.order[0]
	last := len(s.order) - 1
	s.order[0] = s.order[last]
	s.order = s.order[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < last && s.order[l] < s.order[small] {
			small = l
		}
		if r := l + 1; r < last && s.order[r] < s.order[small] {
			small = r
		}
		if small == i {
			break
		}
		s.order[i], s.order[small] = s.order[small], s.order[i]
		i = small
	}
	return top
}

// subSat returns a - b for b >= 0, saturating at math.MinInt64.
func subSat(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// addSat returns a + b for b >= 0, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

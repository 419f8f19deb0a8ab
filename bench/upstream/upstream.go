// Package upstream is the benchmark's stand-in for api.mch.weixin.qq.com: it
// drains the request and answers a presign result signed the way WeChat Pay
// signs answers (SHA256withRSA over "timestamp\nnonce\nbody\n", headers
// Wechatpay-Timestamp/-Nonce/-Signature/-Serial).
//
// Every answer carries a signature of its own, over a nonce no other answer
// had, as WeChat Pay's do: the module refuses a (serial, timestamp, nonce) it
// accepted before (SIGNATURE_REPLAYED), so a stand-in that served one
// signature twice would measure refusals, and a proxy that does not check
// replays (the peer) would be spared work the module does. An RSA-2048
// signature costs about a millisecond of CPU, far more than the stand-in's
// HTTP work, and the stand-in shares its core with the load generator; so
// the benchmark signs the answers of a run ahead, off the measured window, as
// a Pool (Presign, on as many cores as it likes), and the stand-in hands each
// entry out once, in order, never again. A pool that is used up, or whose
// timestamp is about to leave WeChat Pay's five-minute acceptance, answers
// 503 instead and counts the miss (Pool.Missed): the run fails, it does not
// reuse a signature. One timestamp per pool is enough: an answer signed at
// second T is accepted until T+300 s.
//
// A Fixed pool serves one signature to every request, for the rows whose
// proxy forwards answers without verifying them (plain Caddy), which would
// otherwise need tens of thousands of signatures a second. Without a pool
// (the default) the stand-in signs each answer as it sends it: right for
// tests and low rates, a millisecond of CPU per answer otherwise.
//
// It can capture one request on demand (Capture/Captured), which the
// benchmark uses to check that a proxy really encrypted and signed it.
package upstream

import (
	"bufio"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Body is the answer to every request.
var Body = []byte(`{"presign_token":"101000001234567890BENCHMARKPRESIGNTOKEN0001"}`)

// StaleAfter is the age of a pool's timestamp from which the stand-in stops
// serving it: WeChat Pay's answers are refused 300 s after their timestamp,
// and the margin covers the flight of an answer and a clock second.
const StaleAfter = 290 * time.Second

// Request is a captured request as it reached the stand-in.
type Request struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// Signer makes an RSASSA-PKCS1-v1_5 signature of a SHA-256 digest with the
// private half of the WeChat Pay public key.
type Signer func(digest []byte) ([]byte, error)

// KeySigner is the Signer of key with crypto/rsa.
func KeySigner(key *rsa.PrivateKey) Signer {
	key.Precompute()
	return func(digest []byte) ([]byte, error) {
		return rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest)
	}
}

// Server is the stand-in. Build it with New; it is an http.Handler.
type Server struct {
	sign   Signer
	serial string

	pool atomic.Pointer[Pool]
	// prefix and count make the nonces of the answers signed on the spot
	// (no pool): a random prefix per Server and a counter.
	prefix string
	count  atomic.Uint64

	capture  atomic.Bool
	captured atomic.Pointer[Request]
	requests atomic.Int64
}

// answer is one signed answer's header values.
type answer struct {
	ts, nonce, sig, reqID string
}

// New returns a stand-in that signs with key (the private half of the WeChat
// Pay public key) and names serial (its PUB_KEY_ID_...) in Wechatpay-Serial.
// It signs each answer as it sends it until Serve gives it a pool.
func New(key *rsa.PrivateKey, serial string) *Server {
	return &Server{sign: KeySigner(key), serial: serial, prefix: noncePrefix()}
}

// Serve makes the next answers come from p, one entry each, and returns the
// pool they came from before (nil: signed on the spot). Serve(nil) goes back
// to signing each answer on the spot.
func (s *Server) Serve(p *Pool) (old *Pool) { return s.pool.Swap(p) }

// Pool returns the pool answers come from, nil when they are signed on the
// spot.
func (s *Server) Pool() *Pool { return s.pool.Load() }

// ServeHTTP drains the request and answers the signed presign result, or
// 503 when its pool cannot give an answer (used up, or too old).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.capture.Load() && s.capture.CompareAndSwap(true, false) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.captured.Store(&Request{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	} else {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	var a answer
	if p := s.pool.Load(); p != nil {
		var why string
		if a, why = p.take(time.Now()); why != "" {
			http.Error(w, "stand-in: "+why, http.StatusServiceUnavailable)
			return
		}
	} else {
		var err error
		if a, err = signAnswer(s.sign, time.Now().Unix(), s.prefix, s.count.Add(1)-1); err != nil {
			http.Error(w, "stand-in: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(Body))}
	h["Request-Id"] = []string{a.reqID}
	h["Wechatpay-Timestamp"] = []string{a.ts}
	h["Wechatpay-Nonce"] = []string{a.nonce}
	h["Wechatpay-Signature"] = []string{a.sig}
	h["Wechatpay-Serial"] = []string{s.serial}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(Body)
}

// Capture asks the stand-in to keep a copy of the next request.
func (s *Server) Capture() {
	s.captured.Store(nil)
	s.capture.Store(true)
}

// Captured returns the request kept after Capture, or nil.
func (s *Server) Captured() *Request { return s.captured.Load() }

// Requests returns how many requests the stand-in has answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Pool is a set of answers signed ahead at one timestamp, each with a nonce
// of its own: a random 64-bit prefix per pool and the entry's index, 32
// upper-case hex digits in all, as long as WeChat Pay's nonces. Build it
// with Presign, Fixed or ReadPool; the stand-in takes its entries in order,
// each once (a Fixed pool: its one entry, every time).
type Pool struct {
	ts      int64
	entries []answer
	fixed   bool
	next    atomic.Int64 // entries taken, and requests that found none
	missed  atomic.Int64
}

// take returns the next entry, or why there is none.
func (p *Pool) take(now time.Time) (answer, string) {
	if now.Unix()-p.ts >= int64(StaleAfter/time.Second) {
		p.missed.Add(1)
		return answer{}, fmt.Sprintf("the pool signed at %d is %d s old, too close to WeChat Pay's 300 s", p.ts, now.Unix()-p.ts)
	}
	if p.fixed {
		p.next.Add(1)
		return p.entries[0], ""
	}
	i := p.next.Add(1) - 1
	if i >= int64(len(p.entries)) {
		p.missed.Add(1)
		return answer{}, fmt.Sprintf("all %d presigned answers of the pool are used up (an answer is never signed twice)", len(p.entries))
	}
	return p.entries[i], ""
}

// Len is the number of distinct answers the pool holds.
func (p *Pool) Len() int { return len(p.entries) }

// Timestamp is the Wechatpay-Timestamp of every answer of the pool.
func (p *Pool) Timestamp() int64 { return p.ts }

// IsFixed reports whether the pool serves one answer to every request.
func (p *Pool) IsFixed() bool { return p.fixed }

// Served is the number of answers the pool gave: for a pool that is not
// Fixed, as many distinct signatures, at most Len.
func (p *Pool) Served() int64 {
	n := p.next.Load()
	if !p.fixed {
		n = min(n, int64(len(p.entries)))
	}
	return n
}

// Missed is the number of requests the pool could not answer (used up, or
// its timestamp too old: see StaleAfter); each got a 503.
func (p *Pool) Missed() int64 { return p.missed.Load() }

// Presign signs n answers at timestamp ts with sign, on workers goroutines
// (fewer than 1 means 1), each with its own nonce.
func Presign(sign Signer, ts int64, n, workers int) (*Pool, error) {
	if n < 1 {
		return nil, errors.New("upstream: a pool holds at least one answer")
	}
	p := &Pool{ts: ts, entries: make([]answer, n)}
	prefix := noncePrefix()
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				a, err := signAnswer(sign, ts, prefix, uint64(i))
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				p.entries[i] = a
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return p, nil
}

// Fixed returns a pool of one answer signed at ts that the stand-in serves
// to every request: only for a proxy that forwards answers without
// verifying them, since a verifying one refuses the second sighting.
func Fixed(sign Signer, ts int64) (*Pool, error) {
	p, err := Presign(sign, ts, 1, 1)
	if err != nil {
		return nil, err
	}
	p.fixed = true
	return p, nil
}

// noncePrefix is 16 random upper-case hex digits.
func noncePrefix() string {
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	return strings.ToUpper(hex.EncodeToString(raw[:]))
}

// nonce is the prefix and i as 16 upper-case hex digits.
func nonce(prefix string, i uint64) string {
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], i)
	return prefix + strings.ToUpper(hex.EncodeToString(raw[:]))
}

// requestID is the Request-ID of the answer with timestamp ts and nonce:
// WeChat Pay's shape, unique as the nonce's counter half.
func requestID(ts, nonce string) string { return "08" + ts + "BENCH" + nonce[16:] }

// signAnswer signs Body at ts with the i-th nonce of prefix.
func signAnswer(sign Signer, ts int64, prefix string, i uint64) (answer, error) {
	a := answer{ts: strconv.FormatInt(ts, 10), nonce: nonce(prefix, i)}
	a.reqID = requestID(a.ts, a.nonce)
	h := sha256.New()
	io.WriteString(h, a.ts+"\n"+a.nonce+"\n")
	h.Write(Body)
	io.WriteString(h, "\n")
	sig, err := sign(h.Sum(nil))
	if err != nil {
		return answer{}, fmt.Errorf("upstream: signing an answer: %w", err)
	}
	a.sig = base64.StdEncoding.EncodeToString(sig)
	return a, nil
}

// poolMagic starts a pool's text form.
const poolMagic = "caddy-wechatpay-bench-pool/1"

// WriteTo writes the pool as text, for ReadPool in another process: a line
// with poolMagic, the timestamp and the count, then one line per answer,
// its nonce and its signature (base64). A Fixed pool cannot be written.
func (p *Pool) WriteTo(w io.Writer) (int64, error) {
	if p.fixed {
		return 0, errors.New("upstream: a fixed pool stays in its process")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	c, err := fmt.Fprintf(bw, "%s %d %d\n", poolMagic, p.ts, len(p.entries))
	n += int64(c)
	for i := 0; err == nil && i < len(p.entries); i++ {
		c, err = fmt.Fprintf(bw, "%s %s\n", p.entries[i].nonce, p.entries[i].sig)
		n += int64(c)
	}
	if err == nil {
		err = bw.Flush()
	}
	return n, err
}

// ReadPool reads a pool WriteTo wrote. It checks the form, not the
// signatures, and refuses a nonce it saw twice.
func ReadPool(r io.Reader) (*Pool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("upstream: empty pool: %v", sc.Err())
	}
	var magic string
	var ts int64
	var n int
	if _, err := fmt.Sscanf(sc.Text(), "%s %d %d", &magic, &ts, &n); err != nil || magic != poolMagic || n < 1 {
		return nil, fmt.Errorf("upstream: not a pool: %.80q", sc.Text())
	}
	p := &Pool{ts: ts, entries: make([]answer, 0, n)}
	tsText := strconv.FormatInt(ts, 10)
	seen := make(map[string]struct{}, n)
	for sc.Scan() {
		nc, sig, ok := strings.Cut(sc.Text(), " ")
		if !ok || len(nc) != 32 || sig == "" {
			return nil, fmt.Errorf("upstream: pool line %d: %.80q", len(p.entries)+2, sc.Text())
		}
		if _, dup := seen[nc]; dup {
			return nil, fmt.Errorf("upstream: pool line %d: nonce %s seen twice", len(p.entries)+2, nc)
		}
		seen[nc] = struct{}{}
		p.entries = append(p.entries, answer{ts: tsText, nonce: nc, sig: sig, reqID: requestID(tsText, nc)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("upstream: reading a pool: %w", err)
	}
	if len(p.entries) != n {
		return nil, fmt.Errorf("upstream: pool of %d answers announced, %d read", n, len(p.entries))
	}
	return p, nil
}

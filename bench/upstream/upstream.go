// Package upstream is the benchmark's stand-in for api.mch.weixin.qq.com: it
// drains the request and answers a presign result signed the way WeChat Pay
// signs answers (SHA256withRSA over "timestamp\nnonce\nbody\n", headers
// Wechatpay-Timestamp/-Nonce/-Signature/-Serial). The signature is computed
// once per second and cached, so that the stand-in costs a few microseconds
// per request and is never the bottleneck of a run.
//
// It can capture one request on demand (Capture/Captured), which the
// benchmark uses to check that a proxy really encrypted and signed it.
package upstream

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Body is the answer to every request.
var Body = []byte(`{"presign_token":"101000001234567890BENCHMARKPRESIGNTOKEN0001"}`)

// Request is a captured request as it reached the stand-in.
type Request struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// Server is the stand-in. Build it with New; it is an http.Handler.
type Server struct {
	key    *rsa.PrivateKey
	serial string

	mu     sync.Mutex
	cached atomic.Pointer[signed]

	capture  atomic.Bool
	captured atomic.Pointer[Request]
	requests atomic.Int64
}

type signed struct {
	unix                  int64
	ts, nonce, sig, reqID string
}

// New returns a stand-in that signs with key (the private half of the WeChat
// Pay public key) and names serial (its PUB_KEY_ID_...) in Wechatpay-Serial.
func New(key *rsa.PrivateKey, serial string) *Server {
	return &Server{key: key, serial: serial}
}

// current returns the signature of Body for this second, signing it when the
// second changed.
func (s *Server) current() *signed {
	now := time.Now().Unix()
	if c := s.cached.Load(); c != nil && c.unix == now {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cached.Load(); c != nil && c.unix == now {
		return c
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	nonce := hex.EncodeToString(raw[:])
	ts := strconv.FormatInt(now, 10)
	h := sha256.New()
	io.WriteString(h, ts+"\n"+nonce+"\n")
	h.Write(Body)
	io.WriteString(h, "\n")
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, h.Sum(nil))
	if err != nil {
		panic(err) // a valid key cannot fail
	}
	c := &signed{unix: now, ts: ts, nonce: nonce, sig: base64.StdEncoding.EncodeToString(sig),
		reqID: "08" + ts + "BENCH"}
	s.cached.Store(c)
	return c
}

// ServeHTTP drains the request and answers the signed presign result.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.capture.Load() && s.capture.CompareAndSwap(true, false) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.captured.Store(&Request{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	} else {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	c := s.current()
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(Body))}
	h["Request-Id"] = []string{c.reqID}
	h["Wechatpay-Timestamp"] = []string{c.ts}
	h["Wechatpay-Nonce"] = []string{c.nonce}
	h["Wechatpay-Signature"] = []string{c.sig}
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

// Package tlsstandin serves the benchmark's WeChat Pay stand-in
// (bench/upstream: a presign answer signed as WeChat Pay signs) over TLS, as
// api.mch.weixin.qq.com is served, with a certificate from a throwaway CA
// made at run time. It offers HTTP/2 and HTTP/1.1 by ALPN, and counts what
// it sees, so that the latency benchmark can report which protocol a client
// used and how many TLS handshakes its calls cost. It can also spoil the
// signature of the next answer, to check that a client really verifies.
package tlsstandin

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
)

// Counts is what the stand-in saw, from its start or between two reads.
type Counts struct {
	// Handshakes is the number of TLS handshakes completed, Resumed how
	// many of them resumed an earlier session, TLS12 and TLS13 how many
	// negotiated each version.
	Handshakes int64 `json:"tls_handshakes"`
	Resumed    int64 `json:"tls_resumed"`
	TLS12      int64 `json:"tls12"`
	TLS13      int64 `json:"tls13"`
	// HTTP1 and HTTP2 count the requests by protocol.
	HTTP1 int64 `json:"http1_requests"`
	HTTP2 int64 `json:"http2_requests"`
	// Spoiled is the number of answers sent with a spoiled signature.
	Spoiled int64 `json:"spoiled"`
}

// Sub returns c minus an earlier reading.
func (c Counts) Sub(old Counts) Counts {
	return Counts{
		Handshakes: c.Handshakes - old.Handshakes, Resumed: c.Resumed - old.Resumed,
		TLS12: c.TLS12 - old.TLS12, TLS13: c.TLS13 - old.TLS13,
		HTTP1: c.HTTP1 - old.HTTP1, HTTP2: c.HTTP2 - old.HTTP2, Spoiled: c.Spoiled - old.Spoiled,
	}
}

// Server is the stand-in served over TLS on a loopback port.
type Server struct {
	up  *upstream.Server
	ln  net.Listener
	srv *http.Server

	handshakes, resumed, tls12, tls13 atomic.Int64
	http1, http2, spoiled             atomic.Int64
	spoil                             atomic.Bool
}

// Start serves up over TLS with cert on 127.0.0.1 (a free port).
func Start(up *upstream.Server, cert tls.Certificate) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{up: up, ln: ln}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates:     []tls.Certificate{cert},
			NextProtos:       []string{"h2", "http/1.1"},
			VerifyConnection: s.counted,
		},
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// counted runs after every handshake, resumed ones included.
func (s *Server) counted(cs tls.ConnectionState) error {
	s.handshakes.Add(1)
	if cs.DidResume {
		s.resumed.Add(1)
	}
	switch cs.Version {
	case tls.VersionTLS12:
		s.tls12.Add(1)
	case tls.VersionTLS13:
		s.tls13.Add(1)
	}
	return nil
}

// Addr is the listening address, 127.0.0.1:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Counts reads the counters.
func (s *Server) Counts() Counts {
	return Counts{
		Handshakes: s.handshakes.Load(), Resumed: s.resumed.Load(), TLS12: s.tls12.Load(), TLS13: s.tls13.Load(),
		HTTP1: s.http1.Load(), HTTP2: s.http2.Load(), Spoiled: s.spoiled.Load(),
	}
}

// SpoilNext makes the next answer carry a signature that does not verify
// (the right length and valid base64, one bit flipped).
func (s *Server) SpoilNext() { s.spoil.Store(true) }

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

// ServeHTTP counts the request and lets the stand-in answer it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 {
		s.http2.Add(1)
	} else {
		s.http1.Add(1)
	}
	if s.spoil.CompareAndSwap(true, false) {
		s.spoiled.Add(1)
		w = &spoiler{ResponseWriter: w}
	}
	s.up.ServeHTTP(w, r)
}

// spoiler flips one bit of Wechatpay-Signature before the header goes out.
type spoiler struct {
	http.ResponseWriter
	done bool
}

func (sp *spoiler) WriteHeader(code int) {
	if !sp.done {
		sp.done = true
		h := sp.Header()
		if sig, err := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature")); err == nil && len(sig) > 0 {
			sig[len(sig)/2] ^= 1
			h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
		}
	}
	sp.ResponseWriter.WriteHeader(code)
}

func (sp *spoiler) Write(b []byte) (int, error) {
	if !sp.done {
		sp.WriteHeader(http.StatusOK)
	}
	return sp.ResponseWriter.Write(b)
}

// Package relay is a loopback TCP relay that stands for a long network link:
// the latency benchmark puts it between an app (or the proxy) and the WeChat
// Pay stand-in, because these machines' kernels have no netem qdisc.
//
// Every byte read from one side is released to the other side OneWay after
// it was read, in order: each direction is a queue of timestamped chunks
// drained by a writer that waits for each chunk's release time. The delay is
// fixed per byte, not added per read, so a burst of reads costs one delay,
// not one per read, and throughput is not limited (up to QueueChunks chunks
// of at most 32 KiB in flight per direction).
//
// The TCP handshake is emulated too: on loopback connect() returns at once,
// where over a real link it returns one round trip after the SYN was sent.
// So whatever either side sends during the first round trip after the relay
// accepted a connection is treated as sent one round trip after the accept:
// the first exchange over a new connection takes two round trips, the ones
// after it one.
//
// A half-close (EOF) is released like data, OneWay after it was read, as a
// CloseWrite on the other side; a reset or any other read error aborts the
// connection on the other side after the same delay.
//
// Both the listener and the target are loopback addresses only.
package relay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// QueueChunks is how many chunks each direction can hold in flight.
const QueueChunks = 1024

const chunkSize = 32 << 10

// Relay accepts connections on a loopback port and relays each to the target
// with a one-way delay. Build it with New; stop it with Close.
type Relay struct {
	ln     net.Listener
	target string
	oneWay time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
}

// New starts a relay on 127.0.0.1 (a free port) to target, a loopback
// host:port, delaying each direction by oneWay (half the round trip).
func New(target string, oneWay time.Duration) (*Relay, error) {
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return nil, fmt.Errorf("relay: target %q: want a loopback ip:port: %w", target, err)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("relay: target %s is not a loopback address", target)
	}
	if oneWay < 0 {
		return nil, errors.New("relay: negative delay")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{ln: ln, target: target, oneWay: oneWay, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the relay's listening address, 127.0.0.1:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// OneWay is the delay of each direction.
func (r *Relay) OneWay() time.Duration { return r.oneWay }

// Accepted is how many connections the relay has accepted so far.
func (r *Relay) Accepted() int64 { return r.accepted.Load() }

// Close stops accepting, closes every relayed connection and waits for the
// relay's goroutines to end.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

// track registers a connection to be closed by Close; it reports false when
// the relay is already closed.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		r.wg.Add(1)
		go r.serve(c.(*net.TCPConn), time.Now())
	}
}

// serve relays one accepted connection until both directions ended.
func (r *Relay) serve(client *net.TCPConn, acceptedAt time.Time) {
	defer r.wg.Done()
	if !r.track(client) {
		client.Close()
		return
	}
	defer r.untrack(client)
	defer client.Close()
	c, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		_ = client.SetLinger(0)
		return
	}
	server := c.(*net.TCPConn)
	if !r.track(server) {
		server.Close()
		return
	}
	defer r.untrack(server)
	defer server.Close()

	open := acceptedAt.Add(2 * r.oneWay) // when connect() would have returned
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); r.pipe(client, server, open) }()
	go func() { defer both.Done(); r.pipe(server, client, open) }()
	both.Wait()
}

// chunk is what one read returned, or the end of the stream (end is true,
// err the read's error: io.EOF for a half-close).
type chunk struct {
	data []byte
	due  time.Time
	end  bool
	err  error
}

// pipe relays src to dst: a reader goroutine stamps each read with its
// release time and queues it; this goroutine writes each chunk at its time.
func (r *Relay) pipe(src, dst *net.TCPConn, open time.Time) {
	q := make(chan chunk, QueueChunks)
	sent := func() time.Time {
		now := time.Now()
		if now.Before(open) {
			now = open
		}
		return now.Add(r.oneWay)
	}
	go func() {
		defer close(q)
		buf := make([]byte, chunkSize)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{data: append([]byte(nil), buf[:n]...), due: sent()}
			}
			if err != nil {
				q <- chunk{end: true, err: err, due: sent()}
				return
			}
		}
	}()
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for c := range q {
		if d := time.Until(c.due); d > 0 {
			timer.Reset(d)
			<-timer.C
		}
		if c.end {
			if errors.Is(c.err, io.EOF) {
				_ = dst.CloseWrite()
			} else {
				abort(src, dst)
			}
			break
		}
		if _, err := dst.Write(c.data); err != nil {
			abort(src, dst)
			break
		}
	}
	for range q { // the reader ends once src is closed or at EOF
	}
}

// abort resets both connections: the peer sees a reset, not a clean end.
func abort(a, b *net.TCPConn) {
	_ = a.SetLinger(0)
	_ = b.SetLinger(0)
	a.Close()
	b.Close()
}

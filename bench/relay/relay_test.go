package relay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

const oneWay = 15 * time.Millisecond

// listen starts a loopback server that runs serve on each connection.
func listen(t *testing.T, serve func(*net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

func startRelay(t *testing.T, target string) *Relay {
	t.Helper()
	r, err := New(target, oneWay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func dial(t *testing.T, r *Relay) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// stamped is a message as the server received it, and when.
type stamped struct {
	at   time.Time
	data []byte
}

// TestPingPong: every round trip over the relay takes at least two one-way
// delays, each direction at least one, the first (with the emulated TCP
// handshake) at least two round trips, and the bytes come back identical.
func TestPingPong(t *testing.T) {
	arrived := make(chan stamped, 16)
	addr := listen(t, func(c *net.TCPConn) {
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				arrived <- stamped{time.Now(), append([]byte(nil), buf[:n]...)}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	r := startRelay(t, addr)
	start := time.Now()
	c := dial(t, r)
	for i := range 6 {
		msg := []byte{'p', 'i', 'n', 'g', byte('0' + i)}
		sent := time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		at := <-arrived
		if !bytes.Equal(got, msg) || !bytes.Equal(at.data, msg) {
			t.Fatalf("round %d: sent %q, server got %q, came back %q", i, msg, at.data, got)
		}
		if d := at.at.Sub(sent); d < oneWay {
			t.Errorf("round %d: client to server took %v, want >= %v", i, d, oneWay)
		}
		if d := back.Sub(at.at); d < oneWay {
			t.Errorf("round %d: server to client took %v, want >= %v", i, d, oneWay)
		}
		if d := back.Sub(sent); d < 2*oneWay {
			t.Errorf("round %d: round trip %v, want >= %v", i, d, 2*oneWay)
		}
		if i == 0 {
			if d := back.Sub(start); d < 4*oneWay {
				t.Errorf("connect + first round trip took %v, want >= %v (TCP handshake + exchange)", d, 4*oneWay)
			}
		}
	}
	if r.Accepted() != 1 {
		t.Errorf("Accepted() = %d, want 1", r.Accepted())
	}
}

// TestBulkIdentical: a megabyte each way, written in many pieces while the
// other side reads, comes through byte for byte and in order.
func TestBulkIdentical(t *testing.T) {
	fromServer := make([]byte, 1<<20)
	fromClient := make([]byte, 1<<20)
	rand.Read(fromServer)
	rand.Read(fromClient)
	gotByServer := make(chan []byte, 1)
	addr := listen(t, func(c *net.TCPConn) {
		go func() {
			for p := fromServer; len(p) > 0; p = p[min(len(p), 7777):] {
				if _, err := c.Write(p[:min(len(p), 7777)]); err != nil {
					return
				}
			}
			c.CloseWrite()
		}()
		b, _ := io.ReadAll(c)
		gotByServer <- b
	})
	r := startRelay(t, addr)
	c := dial(t, r)
	go func() {
		for p := fromClient; len(p) > 0; p = p[min(len(p), 5000):] {
			if _, err := c.Write(p[:min(len(p), 5000)]); err != nil {
				return
			}
		}
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fromServer) {
		t.Errorf("client got %d bytes, not the server's %d", len(got), len(fromServer))
	}
	if b := <-gotByServer; !bytes.Equal(b, fromClient) {
		t.Errorf("server got %d bytes, not the client's %d", len(b), len(fromClient))
	}
}

// TestHalfClose: a CloseWrite on either side reaches the other side as EOF,
// after the data before it and no sooner than one delay, while the other
// direction keeps working.
func TestHalfClose(t *testing.T) {
	type result struct {
		got   []byte
		eofAt time.Time
	}
	server := make(chan result, 1)
	serverClosedAt := make(chan time.Time, 1)
	addr := listen(t, func(c *net.TCPConn) {
		// The server talks first and half-closes, then reads the
		// client's message to its EOF.
		if _, err := c.Write([]byte("hello")); err != nil {
			return
		}
		serverClosedAt <- time.Now()
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		server <- result{b, time.Now()}
	})
	r := startRelay(t, addr)
	c := dial(t, r)
	b, err := io.ReadAll(c)
	eofAt := time.Now()
	if err != nil || string(b) != "hello" {
		t.Fatalf("client read %q, %v; want hello then EOF", b, err)
	}
	if d := eofAt.Sub(<-serverClosedAt); d < oneWay {
		t.Errorf("server's half-close reached the client after %v, want >= %v", d, oneWay)
	}
	if _, err := c.Write([]byte("late reply")); err != nil {
		t.Fatalf("writing after the server's half-close: %v", err)
	}
	closedAt := time.Now()
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	res := <-server
	if string(res.got) != "late reply" {
		t.Fatalf("server read %q, want %q then EOF", res.got, "late reply")
	}
	if d := res.eofAt.Sub(closedAt); d < oneWay {
		t.Errorf("client's half-close reached the server after %v, want >= %v", d, oneWay)
	}
}

// TestLoopbackOnly: the relay refuses a target off loopback.
func TestLoopbackOnly(t *testing.T) {
	for _, target := range []string{"192.0.2.1:443", "example.com:443", "[2001:db8::1]:443"} {
		if r, err := New(target, oneWay); err == nil {
			r.Close()
			t.Errorf("New(%q) accepted a target off loopback", target)
		}
	}
}

// TestCloseEndsConnections: Close returns with a connection still open, and
// the client then sees its connection end.
func TestCloseEndsConnections(t *testing.T) {
	addr := listen(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	r, err := New(addr, oneWay)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, r)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * oneWay)
	r.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a connection of a closed relay succeeded")
	}
}

package testkit

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFreePortStaysFree: ports FreePort gave are never handed out again, to
// FreePort or to a listener on port 0, yet a listener can bind them (Go's,
// and Caddy's with SO_REUSEPORT, two at once as across a config reload),
// and nothing answers there before one does.
func TestFreePortStaysFree(t *testing.T) {
	held := map[int]bool{}
	for range 64 {
		p := FreePort()
		if held[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		held[p] = true
	}
	// 64 of the kernel's ~14,000 ports for bind(0): 3,000 draws would hit
	// one of them with odds of 1 - e^-13 if they were not held.
	for range 3000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if held[p] {
			t.Fatalf("a listener on port 0 got the held port %d", p)
		}
	}

	var port int
	for p := range held {
		port = p
		break
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if c, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dialing a held port nothing listens on: %v, want connection refused", err)
	}
	reusePort := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, serr)
	}}
	for _, bind := range []string{addr, ":" + strconv.Itoa(port)} {
		a, err := reusePort.Listen(context.Background(), "tcp", bind)
		if err != nil {
			t.Fatalf("a listener with SO_REUSEPORT on %s: %v", bind, err)
		}
		b, err := reusePort.Listen(context.Background(), "tcp", bind)
		if err != nil {
			t.Fatalf("a second listener with SO_REUSEPORT on %s: %v", bind, err)
		}
		a.Close()
		b.Close()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("a Go listener on the held port: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing the listener on the held port: %v", err)
	}
	c.Close()
}

package demo_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
)

// soReusePort is SO_REUSEPORT on Linux, which package syscall leaves out.
const soReusePort = 0xf

// TestRunRefusesAnotherServersPort: another Caddy on the proxy's address
// (the README's next step runs Caddyfile.example on 127.0.0.1:9180) listens
// with SO_REUSEPORT, as Caddy does, so the demo's Caddy could bind the same
// address beside it and the demo's requests would reach the other server.
// The demo refuses to start, naming the address and --listen, and sends
// that server no request.
func TestRunRefusesAnotherServersPort(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	other, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var requests atomic.Int32
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1)
				if n, _ := c.Read(buf); n > 0 {
					requests.Add(1) // a connection that sends something: a request
				}
			}()
		}
	}()
	sim := freeAddr(t)
	out, err := runDemo(t, demo.Options{Listen: other.Addr().String(), SandboxListen: sim})
	if err == nil || !strings.Contains(err.Error(), other.Addr().String()) || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("Run = %v, want a refusal naming %s and --listen\n%s", err, other.Addr(), out)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the other server got %d requests from the demo", n)
	}
	assertClosed(t, "simulator", sim)
}

package integration

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationClaimedTooLargeAnsweredAtOnce: through a real Caddy, a
// Content-Length over max_body (64 KiB here) with no body sent gets its
// 413 at once, not after a read timeout.
func TestIntegrationClaimedTooLargeAnsweredAtOnce(t *testing.T) {
	stub := testkit.NewStub(t)
	loadCaddyfile(t, newTester(t), proxySite{upstream: stub.URL}.caddyfile(t))
	for _, claimed := range []string{"100000", "2000000"} {
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(testPorts.http))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = conn.Write([]byte("POST /v3/merchant/media/upload HTTP/1.1\r\nHost: localhost:" + strconv.Itoa(testPorts.http) +
			"\r\nContent-Type: application/json\r\nContent-Length: " + claimed + "\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("Content-Length %s, nothing sent: no answer within 3 s (%v)", claimed, err)
		} else if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("Content-Length %s: %d", claimed, resp.StatusCode)
		}
		conn.Close()
	}
	if n := len(stub.Requests()); n != 0 {
		t.Errorf("%d requests went upstream", n)
	}
}

package integration

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// faultyUpstream is a raw TCP stand-in that misbehaves in a chosen way.
type faultyUpstream struct {
	ln       net.Listener
	mode     atomic.Value // string
	requests atomic.Int32
}

func newFaultyUpstream(t *testing.T) *faultyUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyUpstream{ln: ln}
	f.mode.Store("")
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.handle(c)
		}
	}()
	return f
}

func (f *faultyUpstream) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	f.requests.Add(1)
	req.Body.Close()
	switch f.mode.Load().(string) {
	case "reset":
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST instead of FIN
		}
	case "slow":
		time.Sleep(2 * time.Second)
	case "truncated":
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"presign_token\":\"partial"))
	case "5xx-html":
		body := "<html>502 Bad Gateway</html>"
		c.Write([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
	}
}

// TestIntegrationUpstreamFaults: whatever goes wrong between the proxy and
// WeChat Pay, the client gets a clear JSON error with a code, never a body
// that looks like success, and a POST is sent once (no automatic retry).
func TestIntegrationUpstreamFaults(t *testing.T) {
	up := newFaultyUpstream(t)
	tester := newTester(t)
	loadCaddyfile(t, tester, caddyConfigWithProxy(t, "http://"+up.ln.Addr().String(), "",
		"transport http {\n\t\t\tresponse_header_timeout 500ms\n\t\t}"))
	for _, tc := range []struct {
		mode   string
		status int
		code   string
		says   string // part of the message
	}{
		// The request was written before the connection broke: the app
		// is told it may have arrived.
		{"reset", 502, codeUpstreamUnreachable, "after the request was sent"},
		{"slow", 504, codeUpstreamTimeout, "did not answer in time"},
		{"truncated", 502, codeUpstreamIncomplete, ""},
		{"5xx-html", 502, codeUpstreamError, ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			up.mode.Store(tc.mode)
			up.requests.Store(0)
			resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
			var e struct{ Code, Message string }
			if resp.StatusCode != tc.status || json.Unmarshal(out, &e) != nil || e.Code != tc.code {
				t.Fatalf("status %d body %s, want %d %s", resp.StatusCode, out, tc.status, tc.code)
			}
			if !strings.Contains(e.Message, tc.says) {
				t.Errorf("message %q does not say %q", e.Message, tc.says)
			}
			if strings.Contains(string(out), "partial") {
				t.Error("part of the unverified answer reached the client")
			}
			if n := up.requests.Load(); n != 1 {
				t.Errorf("upstream got %d requests, want exactly 1 (no retry of a POST)", n)
			}
		})
	}

	// Unreachable: nothing listens on the port any more. The connection
	// was refused, so the app is told the request was not sent.
	addr := up.ln.Addr().String()
	up.ln.Close()
	loadCaddyfile(t, tester, caddyConfigWithProxy(t, "http://"+addr, "", ""))
	resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
	var e struct{ Code, Message string }
	if resp.StatusCode != 502 || json.Unmarshal(out, &e) != nil || e.Code != codeUpstreamUnreachable {
		t.Fatalf("unreachable: status %d %s", resp.StatusCode, out)
	}
	if !strings.Contains(e.Message, "was not sent") {
		t.Errorf("unreachable: message %q does not say the request was not sent", e.Message)
	}
}

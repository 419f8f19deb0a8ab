//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// latencyCaddyfile is the proxy of the latency run, on loopback TCP and on
// a Unix socket (latencySocket): the wechatpay handler
// before reverse_proxy, whose upstream is the stand-in behind the relay,
// over TLS trusted through the throwaway CA only and checked against the
// WeChat Pay name. Caddy's HTTP transport offers HTTP/2 and HTTP/1.1 to a TLS
// upstream by default and keeps its connections (keep-alive 2 minutes).
func (e *env) latencyCaddyfile(listen, relayAddr, caPEM string) string {
	c := e.creds
	port := listen[strings.LastIndexByte(listen, ':')+1:]
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	skip_install_trust
}

:%s {
	bind 127.0.0.1 unix/%s|0600
	wechatpay {
		mchid %s
		serial_no %s
		private_key %s
		public_key_id %s
		public_key %s
	}
	reverse_proxy https://%s {
		transport http {
			tls_trust_pool file %s
			tls_server_name %s
		}
	}
}
`, port, e.latencySocket(), c.MchID, c.MerchantSerial, c.Path(c.Files.MerchantPrivateKey), c.PublicKeyID,
		c.Path(c.Files.PublicKey), relayAddr, caPEM, wechatPayHost)
}

// startLatencyProxy writes the Caddyfile and starts Caddy with the module
// on it, pinned to the server core like the throughput rows.
func (e *env) startLatencyProxy(relayAddr, caPEM string) *server {
	e.seq++
	s := &server{kind: "latency-module", addr: freePort(), done: make(chan struct{})}
	path := filepath.Join(e.runDir, "latency.Caddyfile")
	if err := os.WriteFile(path, []byte(e.latencyCaddyfile(s.addr, relayAddr, caPEM)), 0o600); err != nil {
		fatalf("bench: %v", err)
	}
	e.launch(s, e.o.Caddy, []string{"run", "--config", path, "--adapter", "caddyfile"})
	return s
}

// latencySocket is the path of the latency proxy's Unix socket.
func (e *env) latencySocket() string {
	p, err := filepath.Abs(filepath.Join(e.runDir, "latency-proxy.sock"))
	if err != nil {
		fatalf("bench: %v", err)
	}
	return p
}

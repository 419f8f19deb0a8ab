package golivecheck

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"time"
)

// Backup checks that the backup domain (the second certificates_url, by
// default api2.mch.weixin.qq.com) answers a TLS handshake, or for an http
// URL a TCP connection. Failing is a warning: the proxy turns to it only
// when the first URL is out of reach.
func Backup(ctx context.Context, rawURL string, config *tls.Config, timeout time.Duration) Line {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return Line{Check: CheckBackup, Status: Warn, Text: rawURL + " is not a URL"}
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	what := "a TLS handshake"
	var conn net.Conn
	if u.Scheme == "http" {
		what = "a TCP connection (http: no TLS)"
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	} else {
		cfg := &tls.Config{}
		if config != nil {
			cfg = config.Clone()
		}
		cfg.ServerName = u.Hostname()
		conn, err = (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return Line{Check: CheckBackup, Status: Warn, Text: addr + " does not answer " + what + ": " + err.Error(),
			Fix: "the proxy turns to the backup domain when WeChat Pay's first URL is out of reach: let this host reach " + addr}
	}
	_ = conn.Close()
	return Line{Check: CheckBackup, Status: OK, Text: addr + " answers " + what}
}

//go:build linux

package main

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/relay"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/tlsstandin"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestSDKModes runs the latency run's SDK apps (a new TLS connection per
// call, and a pooled one) against the TLS stand-in through a short relay:
// both pass the checks (what reached the stand-in, a spoiled answer refused)
// and the stand-in's counters tell the two apart.
func TestSDKModes(t *testing.T) {
	dir := t.TempDir()
	creds, err := sandbox.GenerateCredentials(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := tlsstandin.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(wechatPayHost)
	if err != nil {
		t.Fatal(err)
	}
	up := upstream.New(creds.PublicKeyPrivateKey, creds.PublicKeyID)
	stand, err := tlsstandin.Start(up, cert)
	if err != nil {
		t.Fatal(err)
	}
	defer stand.Close()
	link, err := relay.New(stand.Addr(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	e := &env{creds: creds}

	for _, tc := range []struct {
		name      string
		transport func() *http.Transport
		protocol  string
	}{
		{"sdk-new-conn", func() *http.Transport {
			return newConnTransport(link.Addr(), tlsConfig(ca, tls.VersionTLS13, "http/1.1"))
		}, "HTTP/1.1 TLS 1.3, 1.00 new conns/call"},
		{"sdk-new-conn-tls12", func() *http.Transport {
			return newConnTransport(link.Addr(), tlsConfig(ca, tls.VersionTLS12, "http/1.1"))
		}, "HTTP/1.1 TLS 1.2, 1.00 new conns/call"},
		{"sdk-pooled", func() *http.Transport {
			return pooledTransport(link.Addr(), tlsConfig(ca, tls.VersionTLS13))
		}, "HTTP/2 TLS 1.3, pooled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, err := newSDKApp(creds, tc.transport())
			if err != nil {
				t.Fatal(err)
			}
			defer app.close()
			md := &latencyMode{latencyResult: latencyResult{Mode: tc.name}, app: app, link: link, viaStand: true}
			before := stand.Counts()
			if md.Check = e.preflight(md, up, stand); md.Check != "ok" {
				t.Fatalf("preflight: %s", md.Check)
			}
			if !strings.Contains(md.Refusal, "verify") {
				t.Errorf("the spoiled answer was refused with %q, not a verification failure", md.Refusal)
			}
			md.StandInWarm = stand.Counts().Sub(before)
			e.batch(md, 0, 3, up, stand)
			e.batch(md, 1, 2, up, stand)
			md.summarize()
			if md.Check != "ok" || md.Errors != 0 || md.Calls != 5 {
				t.Fatalf("check %q, %d errors (%s), %d calls", md.Check, md.Errors, md.FirstError, md.Calls)
			}
			if md.Protocol != tc.protocol {
				t.Errorf("protocol %q, want %q (stand-in saw %+v)", md.Protocol, tc.protocol, md.StandIn)
			}
		})
	}
}

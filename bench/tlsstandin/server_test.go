package tlsstandin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
)

const host = "api.mch.weixin.qq.com"

func start(t *testing.T) (*Server, *CA, *validators.WechatPayResponseValidator) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const id = "PUB_KEY_ID_0114232134912410000000000000"
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(host)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(upstream.New(key, id), cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ca, validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSAPubkeyVerifier(id, key.PublicKey))
}

func client(ca *CA, h2 bool, cache tls.ClientSessionCache) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: host, ClientSessionCache: cache}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2, DisableKeepAlives: !h2}
	if !h2 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr}
}

func post(t *testing.T, c *http.Client, addr string) *http.Response {
	t.Helper()
	resp, err := c.Post("https://"+addr+"/v3/eduschoolpay/contracts/presign", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, upstream.Body) {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// TestProtocolsAndCounts: the stand-in trusts only its CA's chain, offers
// HTTP/2 and HTTP/1.1, and counts handshakes (resumed ones too) and
// requests by protocol.
func TestProtocolsAndCounts(t *testing.T) {
	s, ca, v := start(t)
	h2 := client(ca, true, nil)
	for range 3 {
		resp := post(t, h2, s.Addr())
		if resp.Proto != "HTTP/2.0" {
			t.Fatalf("protocol %s, want HTTP/2.0", resp.Proto)
		}
		if err := v.Validate(context.Background(), resp); err != nil {
			t.Fatalf("the answer does not verify with the SDK: %v", err)
		}
	}
	if c := s.Counts(); c.Handshakes != 1 || c.HTTP2 != 3 || c.HTTP1 != 0 || c.TLS13 != 1 {
		t.Fatalf("after 3 calls on one HTTP/2 connection: %+v", c)
	}
	before := s.Counts()
	h1 := client(ca, false, tls.NewLRUClientSessionCache(4))
	for range 2 {
		if resp := post(t, h1, s.Addr()); resp.Proto != "HTTP/1.1" {
			t.Fatalf("protocol %s, want HTTP/1.1", resp.Proto)
		}
	}
	if c := s.Counts().Sub(before); c.Handshakes != 2 || c.Resumed != 1 || c.HTTP1 != 2 || c.HTTP2 != 0 {
		t.Fatalf("after 2 calls on new HTTP/1.1 connections with a session cache: %+v", c)
	}

	untrusted := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: host}}}
	if _, err := untrusted.Get("https://" + s.Addr() + "/"); err == nil {
		t.Fatal("a client without the throwaway CA trusted the stand-in")
	}
}

// TestSpoilNext: exactly the next answer fails the SDK's verification.
func TestSpoilNext(t *testing.T) {
	s, ca, v := start(t)
	c := client(ca, true, nil)
	s.SpoilNext()
	if err := v.Validate(context.Background(), post(t, c, s.Addr())); err == nil {
		t.Fatal("a spoiled answer verified")
	}
	if err := v.Validate(context.Background(), post(t, c, s.Addr())); err != nil {
		t.Fatalf("the answer after the spoiled one does not verify: %v", err)
	}
	if got := s.Counts().Spoiled; got != 1 {
		t.Fatalf("Spoiled = %d, want 1", got)
	}
}

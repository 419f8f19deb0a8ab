//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/relay"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/tlsstandin"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// wechatPayHost is the name the apps and the proxy ask for; the stand-in's
// certificate is issued for it, and every dial goes to the relay instead.
const wechatPayHost = "api.mch.weixin.qq.com"

// latencyApp is one way a legacy app makes a presign call: call makes one
// and returns an error unless the answer was verified, had status 200 and
// carried the stand-in's presign token.
type latencyApp interface {
	call(ctx context.Context) error
	close()
}

// presignRequest is the reference presign request (floorcrypto.PresignBody)
// as an app using the official Go SDK declares it: the sensitive fields
// tagged for the SDK's cipher.
type presignRequest struct {
	Appid           string           `json:"appid"`
	Openid          string           `json:"openid"`
	PlanID          string           `json:"plan_id"`
	UserID          string           `json:"user_id"`
	SchoolID        string           `json:"school_id"`
	OutContractCode string           `json:"out_contract_code"`
	Identity        *presignIdentity `json:"identity"`
	BankCard        *presignBankCard `json:"bank_card"`
}

type presignIdentity struct {
	RealName       string `json:"real_name" encryption:"EM_APIV3"`
	CredentialType string `json:"credential_type" encryption:"EM_APIV3"`
	IDCardNumber   string `json:"id_card_number" encryption:"EM_APIV3"`
}

type presignBankCard struct {
	BankCardNo string `json:"bank_card_no" encryption:"EM_APIV3"`
	Phone      string `json:"phone" encryption:"EM_APIV3"`
}

// clone copies the request deeply: the SDK encrypts it in place.
func (p presignRequest) clone() presignRequest {
	id, card := *p.Identity, *p.BankCard
	p.Identity, p.BankCard = &id, &card
	return p
}

// sdkApp is an app that signs and encrypts itself with the official SDK
// (wechatpay-go v0.2.20: its cipher for the fields, its signer for
// Authorization, its validator for the answer's signature).
type sdkApp struct {
	client    *core.Client
	transport *http.Transport
	template  presignRequest
	url       string
}

// newSDKApp builds the SDK client over transport.
func newSDKApp(creds *sandbox.Credentials, transport *http.Transport) (*sdkApp, error) {
	var tmpl presignRequest
	if err := json.Unmarshal(presignBody, &tmpl); err != nil {
		return nil, err
	}
	if tmpl.Identity == nil || tmpl.BankCard == nil {
		return nil, fmt.Errorf("the reference presign request has no identity or bank_card")
	}
	client, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(creds.MchID, creds.MerchantSerial, creds.MerchantPrivateKey,
			creds.PublicKeyID, creds.PublicKey),
		option.WithHTTPClient(&http.Client{Transport: transport, Timeout: 10 * time.Second}))
	if err != nil {
		return nil, err
	}
	return &sdkApp{client: client, transport: transport, template: tmpl, url: "https://" + wechatPayHost + presignPath}, nil
}

func (a *sdkApp) call(ctx context.Context) error {
	req := a.template.clone()
	if _, err := a.client.EncryptRequest(ctx, &req); err != nil {
		return fmt.Errorf("encrypting: %w", err)
	}
	// Post signs, sends, checks the status is 2xx and verifies the
	// answer's signature.
	res, err := a.client.Post(ctx, a.url, req)
	if err != nil {
		return err
	}
	defer res.Response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Response.Body, 4096))
	if err != nil {
		return err
	}
	if res.Response.StatusCode != http.StatusOK || !bytes.Equal(body, upstream.Body) {
		return fmt.Errorf("status %d, body %.200q", res.Response.StatusCode, body)
	}
	return nil
}

func (a *sdkApp) close() { a.transport.CloseIdleConnections() }

// tlsConfig is how the apps trust the stand-in: its throwaway CA only, the
// WeChat Pay name; no session cache, so no resumption.
func tlsConfig(ca *tlsstandin.CA, version uint16, nextProtos ...string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), ServerName: wechatPayHost, MinVersion: tls.VersionTLS12,
		MaxVersion: version, NextProtos: nextProtos}
}

// newConnTransport opens a new TCP connection through the relay and a full
// TLS handshake (no session cache) for every call, speaking HTTP/1.1: a PHP
// process that builds a curl handle per request (curl and Guzzle speak
// HTTP/1.1 unless told otherwise), its connection gone with the request.
func newConnTransport(relayAddr string, cfg *tls.Config) *http.Transport {
	return &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
			return d.DialContext(ctx, "tcp", relayAddr)
		},
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
}

// pooledTransport keeps its connection through the relay: HTTP/2 when the
// stand-in offers it, as Go's http.Transport does by default.
func pooledTransport(relayAddr string, cfg *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", relayAddr)
		},
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     10 * time.Minute,
		DisableCompression:  true,
	}
}

// proxyApp is a legacy app that sends the plaintext request to the local
// proxy over a new plain HTTP connection per call, and lets the proxy
// encrypt, sign and verify.
type proxyApp struct {
	client *http.Client
	url    string
	buf    []byte
}

func newProxyApp(addr string) *proxyApp {
	tr := &http.Transport{
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	return &proxyApp{client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		url: "http://" + addr + presignPath, buf: make([]byte, 4096)}
}

// newUnixProxyApp is proxyApp over a new connection per call to the
// proxy's Unix socket.
func newUnixProxyApp(socket string) *proxyApp {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	return &proxyApp{client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		url: "http://localhost" + presignPath, buf: make([]byte, 4096)}
}

func (a *proxyApp) call(ctx context.Context) error { return doPresign(a.client, a.url, a.buf) }

func (a *proxyApp) close() { a.client.CloseIdleConnections() }

// linkApp measures the link alone: 64 bytes to an echo server and back over
// one kept TCP connection through a relay of its own, no TLS, no HTTP.
type linkApp struct {
	echo     net.Listener
	relay    *relay.Relay
	conn     net.Conn
	msg, got []byte
}

// newLinkApp starts the echo server, its relay delaying each direction by
// oneWay, and connects.
func newLinkApp(oneWay time.Duration) (*linkApp, error) {
	echo, err := echoServer()
	if err != nil {
		return nil, err
	}
	r, err := relay.New(echo.Addr().String(), oneWay)
	if err != nil {
		echo.Close()
		return nil, err
	}
	c, err := net.DialTimeout("tcp", r.Addr(), 5*time.Second)
	if err != nil {
		r.Close()
		echo.Close()
		return nil, err
	}
	msg := bytes.Repeat([]byte("0123456789abcdef"), 4)
	return &linkApp{echo: echo, relay: r, conn: c, msg: msg, got: make([]byte, len(msg))}, nil
}

func (a *linkApp) call(ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	_ = a.conn.SetDeadline(deadline)
	a.msg[0]++
	if _, err := a.conn.Write(a.msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(a.conn, a.got); err != nil {
		return err
	}
	if !bytes.Equal(a.got, a.msg) {
		return fmt.Errorf("echo changed the bytes")
	}
	return nil
}

func (a *linkApp) close() { a.conn.Close(); a.relay.Close(); a.echo.Close() }

// echoServer answers every byte it reads on loopback, for the link row.
func echoServer() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln, nil
}

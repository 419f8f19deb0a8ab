package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// The access-control examples of docs/access.md, run for real: whoever reaches the
// proxy can sign as the merchant, so who may reach it is Caddy's job
// (loopback bind, remote_ip, client certificates), tested here.

func TestIntegrationRemoteIPMatcher(t *testing.T) {
	stub := testkit.NewStub(t)
	for _, tc := range []struct {
		allowed string
		status  int
	}{
		{"10.20.0.0/16", 403}, // the test client is 127.0.0.1: outside
		{"127.0.0.1/8 10.20.0.0/16", 200},
	} {
		stub.Reset()
		tester := newTester(t)
		loadCaddyfile(t, tester, proxySite{upstream: stub.URL, site: `@outsiders not remote_ip ` + tc.allowed + `
	respond @outsiders ` + "`" + `{"code":"FORBIDDEN","message":"this address may not use the WeChat Pay proxy"}` + "`" + ` 403`}.caddyfile(t))
		resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
		if resp.StatusCode != tc.status {
			t.Fatalf("allowed %s: status %d %s", tc.allowed, resp.StatusCode, out)
		}
		if n := len(stub.Requests()); (n == 1) != (tc.status == 200) {
			t.Errorf("allowed %s: %d requests upstream", tc.allowed, n)
		}
	}
}

// testPKI is a throwaway CA with a server certificate for localhost and a
// client certificate.
type testPKI struct {
	caPEM                 string
	serverCert, serverKey string
	client                tls.Certificate
	otherClient           tls.Certificate // signed by another CA
	pool                  *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		return cert, key
	}
	leaf := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, usage x509.ExtKeyUsage, dns ...string) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	}
	ca, caKey := newCA("test CA")
	other, otherKey := newCA("other CA")
	p := &testPKI{caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverCert, p.serverKey = leaf(ca, caKey, 2, x509.ExtKeyUsageServerAuth, "localhost")
	c, k := leaf(ca, caKey, 3, x509.ExtKeyUsageClientAuth)
	p.client, _ = tls.X509KeyPair([]byte(c), []byte(k))
	c, k = leaf(other, otherKey, 4, x509.ExtKeyUsageClientAuth)
	p.otherClient, _ = tls.X509KeyPair([]byte(c), []byte(k))
	return p
}

// httpsClient returns an HTTPS client of this process's TLS port that trusts
// the test CA, checks the name localhost and presents certs.
func (p *testPKI) httpsClient(certs ...tls.Certificate) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "localhost", Certificates: certs},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(testPorts.https))
		}}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

func TestIntegrationMutualTLS(t *testing.T) {
	stub := testkit.NewStub(t)
	pki := newTestPKI(t)
	dir := t.TempDir()
	ca := testkit.WriteFile(t, dir, "clients-ca.pem", pki.caPEM)
	cert := testkit.WriteFile(t, dir, "server-cert.pem", pki.serverCert)
	key := testkit.WriteFile(t, dir, "server-key.pem", pki.serverKey)
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: stub.URL, address: httpsURL, site: `tls ` + cert + ` ` + key + ` {
		client_auth {
			mode require_and_verify
			trust_pool file ` + ca + `
		}
	}`}.caddyfile(t))

	post := func(certs ...tls.Certificate) (int, error) {
		c := pki.httpsClient(certs...)
		defer c.CloseIdleConnections()
		resp, err := c.Post(httpsURL+"/v3/eduschoolpay/contracts/presign", "application/json", strings.NewReader(testkit.PresignBody))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if status, err := post(pki.client); err != nil || status != 200 {
		t.Fatalf("with a trusted client certificate: %d %v", status, err)
	}
	stub.Reset()
	if status, err := post(); err == nil {
		t.Errorf("without a client certificate: answered %d", status)
	}
	if status, err := post(pki.otherClient); err == nil {
		t.Errorf("with an untrusted client certificate: answered %d", status)
	}
	if n := len(stub.Requests()); n != 0 {
		t.Errorf("%d requests went upstream without a trusted client certificate", n)
	}
}

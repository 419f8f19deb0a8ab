package testkit

import (
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// CertAPIv3Key is the APIv3 key of the test merchant in the certificate
// sandbox: 32 bytes.
const CertAPIv3Key = "TestAPIv3Key0123456789abcdefABCD"

// CertSandbox is the WeChat Pay simulator for the test merchant, counting
// the certificate downloads it serves.
type CertSandbox struct {
	Srv       *sandbox.Server
	TS        *httptest.Server
	Downloads atomic.Int32
}

// MerchantCertificate returns a self-signed certificate for the test
// merchant's key whose serial is c.SerialNo, which the sandbox wants.
func MerchantCertificate(c *Credentials) *x509.Certificate {
	return SelfSigned(c.MerchantKey, c.SerialNo, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// NewCertSandbox starts the simulator with the test credentials (public key
// and platform certificate) and CertAPIv3Key, closed when the test ends;
// mutate, when set, changes its configuration first.
func NewCertSandbox(t testing.TB, mutate func(*sandbox.Config)) *CertSandbox {
	t.Helper()
	c := Creds()
	cs := &CertSandbox{}
	cfg := sandbox.Config{
		MchID: c.MchID, MerchantCertificate: MerchantCertificate(c),
		PublicKeyID: c.PublicKeyID, PublicKeyPrivateKey: c.WechatPayKey,
		PlatformCertificate: c.PlatformCert, PlatformPrivateKey: c.PlatformKey,
		Observer: func(x sandbox.Exchange) {
			if strings.HasPrefix(x.RequestURI, sandbox.CertificatesPath) {
				cs.Downloads.Add(1)
			}
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetAPIv3Key(CertAPIv3Key); err != nil {
		t.Fatal(err)
	}
	cs.Srv = srv
	cs.TS = httptest.NewServer(srv)
	t.Cleanup(cs.TS.Close)
	return cs
}

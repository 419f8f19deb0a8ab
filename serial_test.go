package wechatpay

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// leadingZeroCert is a platform certificate whose serial's first byte is
// below 0x10, and that serial as WeChat Pay and the official SDK write it
// (two digits a byte: "0A...").
func leadingZeroCert(t *testing.T) (*x509.Certificate, string) {
	t.Helper()
	c := testkit.Creds()
	cert := testkit.SelfSigned(c.PlatformKey, "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
		time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	serial := utils.GetCertificateSerialNumber(*cert)
	if serial != "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567" {
		t.Fatalf("the SDK writes the serial %s", serial)
	}
	return cert, serial
}

// TestLeadingZeroSerialDownloaded: a downloaded platform certificate whose
// serial starts with a zero digit is named as WeChat Pay names it, so that
// an answer carrying that Wechatpay-Serial verifies (one certificate in 16
// has such a serial).
func TestLeadingZeroSerialDownloaded(t *testing.T) {
	cert, serial := leadingZeroCert(t)
	cs := testkit.NewCertSandbox(t, func(cfg *sandbox.Config) { cfg.PlatformCertificate = cert })
	m := testMerchant(t, cs.TS.URL)
	if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if k := m.currentKeys(); k.serial != serial {
		t.Fatalf("Wechatpay-Serial sent as %q, want %s", k.serial, serial)
	}
	header, body := signedBy(t, cs, m, serial)
	if err := m.currentKeys().verifier.Verify(header, body); err != nil {
		t.Errorf("an answer with Wechatpay-Serial %s: %v", serial, err)
	}
}

// TestLeadingZeroSerialConfigured: the same with the certificate
// configured (platform_certificate), the answer signed by the SDK.
func TestLeadingZeroSerialConfigured(t *testing.T) {
	cert, serial := leadingZeroCert(t)
	c := testkit.Creds()
	m := &Merchant{MchID: c.MchID, SerialNo: c.SerialNo, PrivateKey: testkit.PKCS8(c.MerchantKey)}
	m.PlatformCertificate = []string{testkit.CertPEM(cert)}
	if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if k := m.currentKeys(); k.serial != serial {
		t.Fatalf("Wechatpay-Serial sent as %q, want %s", k.serial, serial)
	}
	body := `{"trade_state":"SUCCESS"}`
	header := http.Header{}
	testkit.SignWechatPay(t, header, c.PlatformKey, serial, time.Now().Unix(), testkit.RandomAlnum(32), []byte(body), "")
	if err := m.currentKeys().verifier.Verify(header, []byte(body)); err != nil {
		t.Errorf("an answer with Wechatpay-Serial %s: %v", serial, err)
	}
}

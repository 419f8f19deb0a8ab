package wechatpay

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// merchantCertFile writes a certificate for the test merchant's key with
// the given serial and expiry, and returns its path.
func merchantCertFile(t *testing.T, serial string, notAfter time.Time) string {
	t.Helper()
	c := testkit.Creds()
	cert := testkit.SelfSigned(c.MerchantKey, serial, time.Now().Add(-time.Hour), notAfter)
	return testkit.WriteFile(t, t.TempDir(), "apiclient_cert.pem", testkit.CertPEM(cert))
}

// TestMerchantCertificateChecked: merchant_certificate must be the private
// key's certificate with serial_no's serial, else the handler does not
// start and the error names the option, never key material.
func TestMerchantCertificateChecked(t *testing.T) {
	c := testkit.Creds()
	keys := testProvisionKeys(t)
	dir := t.TempDir()
	base := func(cert string) map[string]any {
		return map[string]any{
			"mchid": c.MchID, "serial_no": c.SerialNo,
			"private_key":          testkit.WriteFile(t, dir, "apiclient_key.pem", keys.pkcs8),
			"public_key_id":        c.PublicKeyID,
			"public_key":           testkit.WriteFile(t, dir, "pub_key.pem", keys.public),
			"merchant_certificate": cert,
		}
	}
	later := time.Now().Add(365 * 24 * time.Hour)
	good := merchantCertFile(t, c.SerialNo, later)

	h, err := provisionJSON(t, base(good))
	if err != nil {
		t.Fatal(err)
	}
	if mc := h.currentKeys().merchantCert; mc == nil || mc.serial != c.SerialNo || !mc.notAfter.Equal(later.Truncate(time.Second)) {
		t.Errorf("merchant certificate kept as %+v", mc)
	}
	// GET /wechatpay/keys (and so caddy wechatpay keys) shows it.
	if r := reportKeys(h.holderName(), h.currentKeys()).MerchantCertificate; r == nil || r.Serial != c.SerialNo ||
		!r.NotAfter.Equal(later.Truncate(time.Second)) {
		t.Errorf("the keys report of the handler has the certificate as %+v", r)
	}

	// serial_no in lower case, and a serial with a leading zero, which
	// the certificate's number drops: the same serial.
	lower := base(good)
	lower["serial_no"] = strings.ToLower(c.SerialNo)
	if _, err := provisionJSON(t, lower); err != nil {
		t.Errorf("serial_no in lower case: %v", err)
	}
	zero := base(merchantCertFile(t, "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567", later))
	zero["serial_no"] = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
	if _, err := provisionJSON(t, zero); err != nil {
		t.Errorf("a serial with a leading zero: %v", err)
	}

	t.Setenv("TEST_NO_SUCH_CERT", "")
	otherKey := testkit.WriteFile(t, dir, "other_cert.pem", testkit.CertPEM(testkit.SelfSigned(testkit.NewKey(), c.SerialNo, time.Now(), later)))
	for _, tc := range []struct{ name, cert, want string }{
		{"another key's certificate", otherKey, "merchant_certificate: the certificate (serial " + c.SerialNo + ") is not private_key's"},
		{"another serial", merchantCertFile(t, "4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D", later),
			"merchant_certificate: its serial 4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D is not serial_no " + c.SerialNo},
		{"a public key", filepath.Join(dir, "pub_key.pem"), `merchant_certificate: holds a "PUBLIC KEY" PEM block`},
		{"a private key", filepath.Join(dir, "apiclient_key.pem"), `merchant_certificate: holds a "PRIVATE KEY" PEM block`},
		{"no file", filepath.Join(dir, "missing.pem"), "merchant_certificate"},
		{"empty placeholder", "{env.TEST_NO_SUCH_CERT}", "merchant_certificate {env.TEST_NO_SUCH_CERT} resolved to nothing"},
	} {
		_, err := provisionJSON(t, base(tc.cert))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			continue
		}
		assertNoKeyMaterial(t, err.Error(), keys)
	}

	// With merchant, the certificate belongs in the merchant's block.
	_, err = provisionJSON(t, map[string]any{"merchant": "school", "merchant_certificate": good})
	if err == nil || !strings.Contains(err.Error(), "merchant_certificate belongs in the merchant's block") {
		t.Errorf("merchant and merchant_certificate: %v", err)
	}
}

// TestMerchantCertificateExpiryWarning: a certificate that expires within
// 30 days, or has expired, is warned of at start; one that lasts longer is
// not.
func TestMerchantCertificateExpiryWarning(t *testing.T) {
	c := testkit.Creds()
	for _, tc := range []struct {
		name string
		left time.Duration
		want string
	}{
		{"a year", 365 * 24 * time.Hour, ""},
		{"ten days", 10 * 24 * time.Hour, "the merchant API certificate expires soon"},
		{"expired", -time.Minute, "the merchant API certificate has expired"},
	} {
		core, logs := observer.New(zapcore.WarnLevel)
		m := &Merchant{MchID: c.MchID, SerialNo: c.SerialNo, PrivateKey: testkit.PKCS8(c.MerchantKey),
			WechatPayKeys:       WechatPayKeys{PublicKeyID: c.PublicKeyID, PublicKey: testkit.PublicPEM(&c.WechatPayKey.PublicKey)},
			MerchantCertificate: merchantCertFile(t, c.SerialNo, time.Now().Add(tc.left))}
		if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.New(core)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, e := range logs.All() {
			if strings.Contains(e.Message, "merchant API certificate") {
				got = append(got, e.Message)
				if e.ContextMap()["serial"] != c.SerialNo {
					t.Errorf("%s: warning without the serial: %v", tc.name, e.ContextMap())
				}
			}
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %q", tc.name, got)
		case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)):
			t.Errorf("%s: warned %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMerchantCertificateOfTheApp: a merchant of the app checks its
// certificate at start and at each key reload, which replaces it; a reload
// whose key and certificate do not belong together changes nothing.
func TestMerchantCertificateOfTheApp(t *testing.T) {
	old, fresh := testkit.Creds(), testkit.Rotated()
	dir := t.TempDir()
	later := time.Now().Add(100 * 24 * time.Hour).Truncate(time.Second)
	write := func(c *testkit.Credentials, certFor *testkit.Credentials) {
		testkit.WriteFile(t, dir, "serial_no", c.SerialNo)
		testkit.WriteFile(t, dir, "key.pem", testkit.PKCS8(c.MerchantKey))
		testkit.WriteFile(t, dir, "cert.pem", testkit.CertPEM(testkit.SelfSigned(certFor.MerchantKey, certFor.SerialNo, time.Now(), later)))
	}
	write(old, old)
	app := &App{Merchants: map[string]*Merchant{"school": {MchID: old.MchID,
		SerialNo: "{file." + filepath.Join(dir, "serial_no") + "}", PrivateKey: filepath.Join(dir, "key.pem"),
		MerchantCertificate: filepath.Join(dir, "cert.pem"),
		WechatPayKeys:       WechatPayKeys{PublicKeyID: old.PublicKeyID, PublicKey: testkit.PublicPEM(&old.WechatPayKey.PublicKey)}}}}
	if err := startApp(context.Background(), app, fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	m := app.Merchants["school"]
	if mc := m.merchantCertificate(); mc == nil || mc.serial != old.SerialNo || !mc.notAfter.Equal(later) {
		t.Fatalf("at start: %+v", mc)
	}
	// GET /wechatpay/keys (and so caddy wechatpay keys) shows it.
	reported := func() *merchantCertificateReport {
		return reportKeys(m.holderName(), m.currentKeys()).MerchantCertificate
	}
	if r := reported(); r == nil || r.Serial != old.SerialNo || !r.NotAfter.Equal(later) {
		t.Errorf("the keys report at start has the certificate as %+v", r)
	}

	write(fresh, old) // the new key, the old certificate
	if _, err := m.prepareReload(); err == nil || !strings.Contains(err.Error(), "merchant_certificate") {
		t.Errorf("a reload with the old certificate: %v", err)
	}
	write(fresh, fresh)
	commit, err := m.prepareReload()
	if err != nil {
		t.Fatal(err)
	}
	if mc := m.merchantCertificate(); mc.serial != old.SerialNo {
		t.Errorf("prepareReload changed the certificate to %s before commit", mc.serial)
	}
	commit()
	if mc := m.merchantCertificate(); mc == nil || mc.serial != fresh.SerialNo {
		t.Errorf("after the reload: %+v", mc)
	}
	if r := reported(); r == nil || r.Serial != fresh.SerialNo {
		t.Errorf("the keys report after the reload has the certificate as %+v", r)
	}

	// At start, the error names the merchant and the option.
	write(old, fresh)
	again := &App{Merchants: map[string]*Merchant{"school": {MchID: old.MchID, SerialNo: old.SerialNo,
		PrivateKey: filepath.Join(dir, "key.pem"), MerchantCertificate: filepath.Join(dir, "cert.pem"),
		WechatPayKeys: WechatPayKeys{PublicKeyID: old.PublicKeyID, PublicKey: testkit.PublicPEM(&old.WechatPayKey.PublicKey)}}}}
	if err := startApp(context.Background(), again, fileStorage(t), zap.NewNop()); err == nil ||
		!strings.HasPrefix(err.Error(), "merchant school: merchant_certificate: ") {
		t.Errorf("a mismatched certificate at start: %v", err)
	}
}

// TestMerchantCertificateCaddyfile: the option in the handler and in a
// merchant's block.
func TestMerchantCertificateCaddyfile(t *testing.T) {
	assertAdapt(t, `{
	wechatpay {
		merchant school {
			mchid                1900000001
			serial_no            3775B6A45ACD588826D15E583A95F5DD12345678
			private_key          /etc/wechatpay/apiclient_key.pem
			merchant_certificate /etc/wechatpay/apiclient_cert.pem
			public_key_id        PUB_KEY_ID_0114232134912410000000000000
			public_key           /etc/wechatpay/pub_key.pem
		}
	}
}
:9180 {
	wechatpay {
		mchid                1900000002
		serial_no            4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D
		private_key          /etc/wechatpay/canteen_key.pem
		merchant_certificate {file./etc/wechatpay/canteen_cert.pem}
		public_key_id        PUB_KEY_ID_0114232134912410000000000000
		public_key           /etc/wechatpay/pub_key.pem
	}
}`, `{
	"apps": {
		"http": {"servers": {"srv0": {"listen": [":9180"], "routes": [{"handle": [
			{"handler": "wechatpay", "mchid": "1900000002", "merchant_certificate": "{file./etc/wechatpay/canteen_cert.pem}",
				"private_key": "/etc/wechatpay/canteen_key.pem", "public_key": "/etc/wechatpay/pub_key.pem",
				"public_key_id": "PUB_KEY_ID_0114232134912410000000000000", "serial_no": "4D1E9C6B2A7F3E8D5C0B9A8F7E6D5C4B3A2F1E0D"}
		]}]}}},
		"wechatpay": {"merchants": {
			"school": {"mchid": "1900000001", "serial_no": "3775B6A45ACD588826D15E583A95F5DD12345678",
				"private_key": "/etc/wechatpay/apiclient_key.pem", "merchant_certificate": "/etc/wechatpay/apiclient_cert.pem",
				"public_key_id": "PUB_KEY_ID_0114232134912410000000000000", "public_key": "/etc/wechatpay/pub_key.pem"}
		}}
	}
}`)
	if _, err := adaptCaddyfile(t, ":9180 {\n\twechatpay {\n\t\tmerchant_certificate a.pem\n\t\tmerchant_certificate b.pem\n\t}\n}\n"); err == nil ||
		!strings.Contains(err.Error(), "merchant_certificate given more than once") {
		t.Errorf("merchant_certificate twice: %v", err)
	}
}

package wechatpay

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

func TestCLICertificates(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	storage := filepath.Join(dir, "storage")
	config := testkit.WriteFile(t, dir, "Caddyfile", `{
	storage file_system `+storage+`
	wechatpay {
		merchant school {
			mchid            `+c.MchID+`
			serial_no        `+c.SerialNo+`
			private_key      `+key+`
			apiv3_key        {file.`+apiv3+`}
			certificates_url `+cs.TS.URL+`
		}
		merchant static {
			mchid         `+c.MchID+`
			serial_no     `+c.SerialNo+`
			private_key   `+key+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))+`
		}
	}
}
:0 {
	respond ok
}
`)
	var out bytes.Buffer
	if err := runCertificates(context.Background(), &out, config, "", ""); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"merchant school (mchid " + c.MchID + ")",
		"serial " + c.PlatformSerial + "  valid " + c.PlatformCert.NotBefore.UTC().Format("2006-01-02T15:04:05Z"),
		"stored in " + filepath.Join(storage, "wechatpay", c.MchID, "platform_certificates.json"),
		"merchant static", "downloads no platform certificate",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), testkit.CertAPIv3Key) {
		t.Error("the output holds the APIv3 key")
	}
	// A second run downloads again: the command always asks WeChat Pay.
	out.Reset()
	if err := runCertificates(context.Background(), &out, config, "", "school"); err != nil || cs.Downloads.Load() != 2 {
		t.Errorf("second run: %v, %d downloads", err, cs.Downloads.Load())
	}
	if strings.Contains(out.String(), "merchant static") {
		t.Error("--merchant school reported another merchant")
	}
	if err := runCertificates(context.Background(), &out, config, "", "canteen"); err == nil || !strings.Contains(err.Error(), "not in the config") {
		t.Errorf("unknown merchant: %v", err)
	}
}

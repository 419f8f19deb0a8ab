package wechatpay

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLICertificates(t *testing.T) {
	c := testCredentials(t)
	cs := newCertSandbox(t, nil)
	dir := t.TempDir()
	key := writeFile(t, dir, "apiclient_key.pem", pemPKCS8(t, c.merchantKey))
	apiv3 := writeFile(t, dir, "apiv3_key.txt", certAPIv3Key)
	storage := filepath.Join(dir, "storage")
	config := writeFile(t, dir, "Caddyfile", `{
	storage file_system `+storage+`
	wechatpay {
		merchant school {
			mchid            `+c.mchid+`
			serial_no        `+c.serialNo+`
			private_key      `+key+`
			apiv3_key        {file.`+apiv3+`}
			certificates_url `+cs.ts.URL+`
		}
		merchant static {
			mchid         `+c.mchid+`
			serial_no     `+c.serialNo+`
			private_key   `+key+`
			public_key_id `+c.publicKeyID+`
			public_key    `+writeFile(t, dir, "pub_key.pem", pemPublic(t, &c.wechatpayKey.PublicKey))+`
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
		"merchant school (mchid " + c.mchid + ")",
		"serial " + c.platformSerial + "  valid " + c.platformCert.NotBefore.UTC().Format("2006-01-02T15:04:05Z"),
		"stored in " + filepath.Join(storage, "wechatpay", c.mchid, "platform_certificates.json"),
		"merchant static", "downloads no platform certificate",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), certAPIv3Key) {
		t.Error("the output holds the APIv3 key")
	}
	// A second run downloads again: the command always asks WeChat Pay.
	out.Reset()
	if err := runCertificates(context.Background(), &out, config, "", "school"); err != nil || cs.downloads.Load() != 2 {
		t.Errorf("second run: %v, %d downloads", err, cs.downloads.Load())
	}
	if strings.Contains(out.String(), "merchant static") {
		t.Error("--merchant school reported another merchant")
	}
	if err := runCertificates(context.Background(), &out, config, "", "canteen"); err == nil || !strings.Contains(err.Error(), "not in the config") {
		t.Errorf("unknown merchant: %v", err)
	}
}

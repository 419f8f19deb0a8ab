package integration

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationKeyReloadTakesDownloadedCertificates: a platform
// certificate that `caddy wechatpay certificates` downloads into Caddy's
// storage while Caddy runs is in use after `caddy wechatpay keys --reload`,
// with no configuration reload and before the next refresh.
func TestIntegrationKeyReloadTakesDownloadedCertificates(t *testing.T) {
	c := testkit.Creds()
	school := testkit.NewCertSandbox(t, nil)
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	config := "{\n" + testGlobals("1ns", "storage file_system "+filepath.Join(dir, "storage")) + `	wechatpay {
		merchant school {
			mchid            ` + c.MchID + `
			serial_no        ` + c.SerialNo + `
			private_key      ` + key + `
			apiv3_key        {file.` + apiv3 + `}
			certificates_url ` + school.TS.URL + `
		}
	}
}
` + proxyURL + ` {
	bind 127.0.0.1
	wechatpay {
		merchant school
	}
	reverse_proxy ` + strings.TrimPrefix(school.TS.URL, "http://") + `
}
`
	configFile := testkit.WriteFile(t, dir, "Caddyfile", config)
	tester := newTester(t)
	loadCaddyfile(t, tester, config)
	if t.Failed() {
		t.FailNow()
	}
	_, before, body := adminCall(t, http.MethodGet, "/wechatpay/keys")
	if len(before) != 1 || before[0].WechatPaySerial != c.PlatformSerial {
		t.Fatalf("GET /wechatpay/keys at start: %s", body)
	}

	next, err := school.Srv.RotatePlatformCertificate(0)
	if err != nil {
		t.Fatal(err)
	}
	nextSerial := pemkey.CertificateSerial(next)
	printed, err := caddyWechatpay("certificates", "--config", configFile)
	if err != nil || !strings.Contains(printed, nextSerial) {
		t.Fatalf("caddy wechatpay certificates: %v\n%s", err, printed)
	}
	if _, now, body := adminCall(t, http.MethodGet, "/wechatpay/keys"); len(now) != 1 || now[0].WechatPaySerial != c.PlatformSerial {
		t.Fatalf("the running Caddy changed keys before the reload: %s", body)
	}

	printed, err = caddyWechatpay("keys", "--address", strings.TrimPrefix(adminURL, "http://"), "--reload")
	if err != nil || !strings.Contains(printed, "reloaded    changed") {
		t.Errorf("caddy wechatpay keys --reload: %v\n%s", err, printed)
	}
	_, after, body := adminCall(t, http.MethodGet, "/wechatpay/keys")
	if len(after) != 1 || after[0].WechatPaySerial != nextSerial || !slices.Contains(after[0].WechatPayKeys, c.PlatformSerial) {
		t.Fatalf("after the reload: %s; want %s encrypting, %s still trusted", body, nextSerial, c.PlatformSerial)
	}
	// The next request names the new certificate.
	if resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody)); resp.StatusCode != 200 {
		t.Errorf("presign after the reload: %d %s", resp.StatusCode, out)
	}
}

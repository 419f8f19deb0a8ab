package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestIntegrationMerchants runs a real Caddy with two merchants in the
// global wechatpay app, each behind its own route and simulator: "school"
// downloads its platform certificates (kept in a file_system storage),
// "canteen" has the WeChat Pay public key. (That a platform certificate
// rotation reaches a running handler is TestMerchantRotationReachesItsHandler
// in the root package, which can run the refresh at once.)
func TestIntegrationMerchants(t *testing.T) {
	c := testkit.Creds()
	var seen []sandbox.Exchange
	school := testkit.NewCertSandbox(t, func(cfg *sandbox.Config) {
		prev := cfg.Observer
		cfg.Observer = func(x sandbox.Exchange) { prev(x); seen = append(seen, x) }
	})
	canteen := testkit.NewCertSandbox(t, func(cfg *sandbox.Config) { cfg.MchID = "1900000002" })

	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	config := "{\n" + testGlobals("1ns", "storage file_system "+storage) + `	wechatpay {
		merchant school {
			mchid            ` + c.MchID + `
			serial_no        ` + c.SerialNo + `
			private_key      ` + key + `
			apiv3_key        {file.` + apiv3 + `}
			certificates_url ` + school.TS.URL + `
		}
		merchant canteen {
			mchid         1900000002
			serial_no     ` + c.SerialNo + `
			private_key   ` + key + `
			public_key_id ` + c.PublicKeyID + `
			public_key    ` + pub + `
		}
	}
}
` + proxyURL + ` {
	bind 127.0.0.1
	@canteen header X-Merchant canteen
	route @canteen {
		wechatpay {
			merchant canteen
		}
		reverse_proxy ` + strings.TrimPrefix(canteen.TS.URL, "http://") + `
	}
	route {
		wechatpay {
			merchant school
		}
		reverse_proxy ` + strings.TrimPrefix(school.TS.URL, "http://") + `
	}
}
`
	tester := newTester(t)
	loadCaddyfile(t, tester, config)
	if t.Failed() {
		t.FailNow()
	}
	presign := func(merchant, wantSerial string) {
		t.Helper()
		resp, body := send(t, tester, "POST", sandbox.PresignPath, []byte(testkit.PresignBody),
			"Content-Type", "application/json", "X-Merchant", merchant)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "presign_token") {
			t.Fatalf("%s: status %d body %s", merchant, resp.StatusCode, body)
		}
		if merchant == "school" {
			x := seen[len(seen)-1]
			if got := x.Header.Get("Wechatpay-Serial"); got != wantSerial {
				t.Errorf("school: request encrypted for %s, want %s", got, wantSerial)
			}
			if x.ResponseHeader.Get("Wechatpay-Serial") != wantSerial {
				t.Errorf("school: answer signed by %s", x.ResponseHeader.Get("Wechatpay-Serial"))
			}
		}
	}
	presign("school", c.PlatformSerial)
	presign("canteen", c.PublicKeyID)
	if n := school.Downloads.Load(); n != 1 {
		t.Errorf("%d certificate downloads at start", n)
	}
	stored := filepath.Join(storage, "wechatpay", c.MchID, "platform_certificates.json")
	raw, err := os.ReadFile(stored)
	if err != nil || !strings.Contains(string(raw), c.PlatformSerial) {
		t.Fatalf("certificates in storage: %v", err)
	}
}

// TestMerchantHandlerErrors checks the configurations a handler naming a
// merchant refuses, as `caddy validate` would.
func TestMerchantHandlerErrors(t *testing.T) {
	c := testkit.Creds()
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	merchant := `{"mchid":"` + c.MchID + `","serial_no":"` + c.SerialNo + `","private_key":"` + key +
		`","public_key_id":"` + c.PublicKeyID + `","public_key":"` + pub + `"}`
	for name, tc := range map[string]struct{ apps, handler, want string }{
		"no app": {handler: `"merchant":"school"`, want: "no wechatpay app is configured"},
		"unknown merchant": {apps: `"wechatpay":{"merchants":{"school":` + merchant + `}},`,
			handler: `"merchant":"canteen"`, want: `merchant "canteen" is not defined in the wechatpay app (defined: school)`},
		"inline keys as well": {apps: `"wechatpay":{"merchants":{"school":` + merchant + `}},`,
			handler: `"merchant":"school","mchid":"1","public_key":"x"`, want: "mchid, public_key belong in the merchant's block"},
		"handler option checked": {apps: `"wechatpay":{"merchants":{"school":` + merchant + `}},`,
			handler: `"merchant":"school","allow_paths":["/x"]`, want: "allow_paths"},
		"bad merchant": {apps: `"wechatpay":{"merchants":{"school":{"mchid":"x"}}},`,
			handler: `"merchant":"school"`, want: "merchant school: mchid must be the merchant number"},
		"short APIv3 key": {apps: `"wechatpay":{"merchants":{"school":` + strings.Replace(merchant, "{", `{"apiv3_key":"short",`, 1) + `}},`,
			handler: `"merchant":"school"`, want: "apiv3_key must be 32 bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := `{"apps":{` + tc.apps + `"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[{"handler":"wechatpay",` +
				tc.handler + `}]}]}}}}}`
			var config caddy.Config
			if err := json.Unmarshal([]byte(cfg), &config); err != nil {
				t.Fatal(err)
			}
			err := caddy.Validate(&config)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "short\"") {
				t.Error("the error quotes the APIv3 key")
			}
		})
	}
}

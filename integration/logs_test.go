package integration

import (
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationDebugLogsHoldNoSecrets runs a real Caddy with every log at
// DEBUG and an access log, pushes the reference presign request, a GET with
// sensitive query parameters, refusals, a forged response and callbacks, and
// then searches every line Caddy wrote for plaintext values, the private
// key, the request signatures, Authorization headers and the APIv3 key.
func TestIntegrationDebugLogsHoldNoSecrets(t *testing.T) {
	stub := testkit.NewStub(t)
	app := newStandInApp(t)
	c := testkit.Creds()
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.APIv3Key)
	logFile, accessFile := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	tester := newTester(t)
	loadCaddyfile(t, tester, "{\n"+testGlobals("1ns", "storage file_system "+filepath.Join(dir, "storage"))+`	log {
		output file `+logFile+`
		level DEBUG
	}
}
`+proxyURL+` {
	bind 127.0.0.1
	log {
		output file `+accessFile+`
	}
	handle /wechatpay/notify {
		wechatpay_notify {
			apiv3_key     {file.`+apiv3+`}
			public_key_id `+c.PublicKeyID+`
			public_key    `+pub+`
		}
		reverse_proxy `+strings.TrimPrefix(app.URL, "http://")+`
	}
	handle {
		wechatpay {
			mchid         `+c.MchID+`
			serial_no     `+c.SerialNo+`
			private_key   `+key+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+pub+`
		}
		reverse_proxy `+strings.TrimPrefix(stub.URL, "http://")+`
	}
}
`)
	if t.Failed() {
		t.FailNow()
	}

	secrets := []string{"PRIVATE KEY", testkit.APIv3Key,
		base64.StdEncoding.EncodeToString(c.MerchantKey.D.Bytes())[:24]}
	for _, plain := range testkit.PresignPlain {
		if len(plain) >= 6 {
			secrets = append(secrets, plain, url.QueryEscape(plain))
		}
	}
	const cardNo = "6217000010012345678"
	secrets = append(secrets, cardNo)

	send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody), "Authorization", "Bearer app-secret-token")
	send(t, tester, "GET", "/v3/aggracct-bc/wb-channel/account/balance?bal_account_no="+cardNo+"&card_no="+cardNo, nil)
	send(t, tester, "GET", "/v3/aggracct-bc/wb-channel/account/balance?card_no="+cardNo+"&card_no="+cardNo, nil) // refused
	send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(`{"identity":{"real_name":"张三","real_name":"110101199003071234"}}`))
	send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(`{"bank_card":{"phone":13800138000}}`))
	stub.SetResponse(testkit.StubResponse{SignKey: c.PlatformKey})
	send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
	stub.SetResponse(testkit.StubResponse{})
	sendCallback(t, tester, "/wechatpay/notify", testkit.BuildCallback(t, testkit.CallbackSpec{}))
	sendCallback(t, tester, "/wechatpay/notify", testkit.BuildCallback(t, testkit.CallbackSpec{SignKey: c.PlatformKey}))
	sendCallback(t, tester, "/wechatpay/notify", testkit.BuildCallback(t, testkit.CallbackSpec{APIv3Key: "0123456789abcdef0123456789abcdef"}))

	for _, r := range stub.Requests() {
		auth := r.Header.Get("Authorization")
		secrets = append(secrets, auth)
		if m := testkit.AuthorizationRE.FindStringSubmatch(auth); m != nil {
			secrets = append(secrets, m[3][:32])
		}
	}
	if len(stub.Requests()) < 3 {
		t.Fatalf("only %d requests went upstream", len(stub.Requests()))
	}
	// The secrets of the callbacks: the decrypted resource's payer openid.
	secrets = append(secrets, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")

	var logs string
	deadline := time.Now().Add(3 * time.Second)
	for {
		a, _ := os.ReadFile(logFile)
		b, _ := os.ReadFile(accessFile)
		logs = string(a) + string(b)
		if strings.Count(string(b), "\n") >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs, `"level":"debug"`) || !strings.Contains(logs, "/v3/eduschoolpay/contracts/presign") {
		t.Fatalf("the logs do not hold DEBUG lines and access lines:\n%.2000s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("a log line holds a secret (%.10s...): %.300s", s, line)
			}
		}
	}
}

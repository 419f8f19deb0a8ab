package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationNotifyMerchant: wechatpay_notify takes its APIv3 key and
// WeChat Pay keys from a merchant of the global wechatpay app; a valid
// callback reaches the app decrypted, a forged one does not; the log lines
// of both name the merchant.
func TestIntegrationNotifyMerchant(t *testing.T) {
	app := newStandInApp(t)
	c := testkit.Creds()
	dir := t.TempDir()
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.APIv3Key)
	globals, _ := schoolGlobals(t, dir, c, "{file."+apiv3+"}", "")
	logFile := filepath.Join(dir, "caddy.log")
	globals = strings.Replace(globals, "\twechatpay {", "\tlog {\n\t\toutput file "+logFile+"\n\t}\n\twechatpay {", 1)
	tester := newTester(t)
	loadCaddyfile(t, tester, globals+proxyURL+` {
	bind 127.0.0.1
	handle /wechatpay/notify {
		wechatpay_notify {
			merchant school
		}
		reverse_proxy `+strings.TrimPrefix(app.URL, "http://")+`
	}
}
`)
	if t.Failed() {
		t.FailNow()
	}
	app.set(200)
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	resp, out := sendCallback(t, tester, "/wechatpay/notify", cb)
	if resp.StatusCode != 204 {
		t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
	}
	calls := app.calls()
	if len(calls) != 1 || !strings.Contains(string(calls[0].body), `"trade_state":"SUCCESS"`) {
		t.Fatalf("app got %d calls", len(calls))
	}

	app.set(200)
	forged := testkit.BuildCallback(t, testkit.CallbackSpec{SignKey: c.PlatformKey})
	resp, out = sendCallback(t, tester, "/wechatpay/notify", forged)
	if resp.StatusCode != 401 || len(app.calls()) != 0 {
		t.Fatalf("forged callback: %d %s, app calls %d", resp.StatusCode, out, len(app.calls()))
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"forwarded", "callback refused"} {
		found := false
		for _, line := range strings.Split(string(logs), "\n") {
			if strings.Contains(line, `"msg":"`+msg+`"`) {
				found = true
				if !strings.Contains(line, `"merchant":"school"`) {
					t.Errorf("the log line names no merchant: %s", line)
				}
			}
		}
		if !found {
			t.Errorf("no %q log line", msg)
		}
	}
}

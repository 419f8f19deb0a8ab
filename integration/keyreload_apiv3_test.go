package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// schoolGlobals is a global options block whose wechatpay app has the
// merchant school with c's keys (written to dir) and the apiv3_key option
// given, its storage in dir; extra are more lines of the merchant block.
func schoolGlobals(t *testing.T, dir string, c *testkit.Credentials, apiv3Key, extra string) (globals, pubFile string) {
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	return "{\n" + testGlobals("1ns", "storage file_system "+filepath.Join(dir, "storage")) + `	wechatpay {
		merchant school {
			mchid         ` + c.MchID + `
			serial_no     ` + c.SerialNo + `
			private_key   ` + key + `
			apiv3_key     ` + apiv3Key + `
			public_key_id ` + c.PublicKeyID + `
			public_key    ` + pub + `
			` + extra + `
		}
	}
}
`, pub
}

// TestIntegrationKeyReloadAPIv3Key rotates the APIv3 key of a merchant of
// the app and of a wechatpay_notify handler with keys of its own through
// POST /wechatpay/keys/reload, with no configuration reload: callbacks
// sealed under the new key decrypt afterwards on both routes, and those
// sealed under the old key no longer do.
func TestIntegrationKeyReloadAPIv3Key(t *testing.T) {
	app := newStandInApp(t)
	c := testkit.Creds()
	dir := t.TempDir()
	files := keyFiles{dir: dir}
	files.replace(t, "apiv3_key.txt", testkit.APIv3Key)
	files.replace(t, "notify_apiv3_key.txt", testkit.APIv3Key)
	globals, pub := schoolGlobals(t, dir, c, files.placeholder("apiv3_key.txt"), "download_certificates off")
	tester := newTester(t)
	loadCaddyfile(t, tester, globals+proxyURL+` {
	bind 127.0.0.1
	handle /notify/merchant {
		wechatpay_notify {
			merchant school
		}
		reverse_proxy `+strings.TrimPrefix(app.URL, "http://")+`
	}
	handle /notify/inline {
		wechatpay_notify {
			apiv3_key     `+files.placeholder("notify_apiv3_key.txt")+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+pub+`
		}
		reverse_proxy `+strings.TrimPrefix(app.URL, "http://")+`
	}
}
`)
	if t.Failed() {
		t.FailNow()
	}
	const newKey = "Nw3Rk8Pz1Lq6Ty0Ux5Mv9Cb2Hg7Dj4Fs"
	deliver := func(path, apiv3Key string) int {
		t.Helper()
		resp, _ := sendCallback(t, tester, path, testkit.BuildCallback(t, testkit.CallbackSpec{APIv3Key: apiv3Key}))
		return resp.StatusCode
	}
	routes := []string{"/notify/merchant", "/notify/inline"}
	for _, path := range routes {
		if got := deliver(path, testkit.APIv3Key); got != http.StatusNoContent {
			t.Fatalf("%s before the rotation: %d", path, got)
		}
	}

	files.replace(t, "apiv3_key.txt", newKey)
	files.replace(t, "notify_apiv3_key.txt", newKey)
	for _, path := range routes {
		if got := deliver(path, newKey); got != http.StatusBadRequest {
			t.Errorf("%s: a callback under the new key before the reload: %d, want 400", path, got)
		}
	}
	code, reports, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload")
	if code != 200 || len(reports) != 2 {
		t.Fatalf("POST /wechatpay/keys/reload: %d %s", code, body)
	}
	if strings.Contains(body, newKey) || strings.Contains(body, testkit.APIv3Key) {
		t.Errorf("the reload's answer quotes an APIv3 key: %s", body)
	}
	for _, path := range routes {
		if got := deliver(path, newKey); got != http.StatusNoContent {
			t.Errorf("%s: a callback under the new key after the reload: %d, want 204", path, got)
		}
		if got := deliver(path, testkit.APIv3Key); got != http.StatusBadRequest {
			t.Errorf("%s: a callback under the old key after the reload: %d, want 400", path, got)
		}
	}

	// All or nothing: a key of the wrong length fails the whole reload.
	files.replace(t, "apiv3_key.txt", testkit.APIv3Key)
	files.replace(t, "notify_apiv3_key.txt", "too short")
	if code, _, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload"); code != http.StatusBadRequest ||
		!strings.Contains(body, "apiv3_key") || !strings.Contains(body, "no key was changed") || strings.Contains(body, "too short") {
		t.Errorf("a reload with a bad apiv3_key: %d %s", code, body)
	}
	if got := deliver("/notify/merchant", newKey); got != http.StatusNoContent {
		t.Errorf("after a failed reload the merchant's key changed: %d", got)
	}
}

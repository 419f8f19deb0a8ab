package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// keyFiles are the key sources of a configuration that names them with
// {file./path} placeholders, so that they can change while Caddy runs.
type keyFiles struct{ dir string }

func newKeyFiles(t *testing.T, c *testkit.Credentials) keyFiles {
	k := keyFiles{dir: t.TempDir()}
	k.write(t, c)
	return k
}

// write replaces every file with c's keys, each by a rename, as a secrets
// agent or `mv` does.
func (k keyFiles) write(t *testing.T, c *testkit.Credentials) {
	t.Helper()
	for name, content := range map[string]string{
		"serial_no":          c.SerialNo,
		"apiclient_key.pem":  testkit.PKCS8(c.MerchantKey),
		"pub_key_id":         c.PublicKeyID,
		"pub_key.pem":        testkit.PublicPEM(&c.WechatPayKey.PublicKey),
		"notify_pub_key_id":  c.PublicKeyID,
		"notify_pub_key.pem": testkit.PublicPEM(&c.WechatPayKey.PublicKey),
	} {
		k.replace(t, name, content)
	}
}

func (k keyFiles) replace(t *testing.T, name, content string) {
	t.Helper()
	tmp := testkit.WriteFile(t, k.dir, name+".new", content)
	if err := os.Rename(tmp, filepath.Join(k.dir, name)); err != nil {
		t.Fatal(err)
	}
}

func (k keyFiles) placeholder(name string) string { return "{file." + filepath.Join(k.dir, name) + "}" }

// options are the key options of a wechatpay handler or merchant block.
func (k keyFiles) options(mchid string) string {
	return `mchid         ` + mchid + `
		serial_no     ` + k.placeholder("serial_no") + `
		private_key   ` + k.placeholder("apiclient_key.pem") + `
		public_key_id ` + k.placeholder("pub_key_id") + `
		public_key    ` + k.placeholder("pub_key.pem")
}

var adminURL = "http://localhost:" + strconv.Itoa(testPorts.admin)

// keysReport is an entry of GET /wechatpay/keys, as docs/key-rotation.md
// describes it.
type keysReport struct {
	Holder          string   `json:"holder"`
	MchID           string   `json:"mchid"`
	SerialNo        string   `json:"serial_no"`
	WechatPaySerial string   `json:"wechatpay_serial"`
	WechatPayKeys   []string `json:"wechatpay_keys"`
	Changed         *bool    `json:"changed"`
}

// caddyWechatpay runs `caddy wechatpay <args>` as the caddy command would,
// and returns what it printed.
func caddyWechatpay(args ...string) (string, error) {
	return caddyCommand("wechatpay", args...)
}

// adminCall sends a request to Caddy's admin API and decodes a JSON answer.
func adminCall(t *testing.T, method, path string) (int, []keysReport, string) {
	t.Helper()
	req, err := http.NewRequest(method, adminURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var reports []keysReport
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &reports); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return resp.StatusCode, reports, string(body)
}

// TestIntegrationKeyReloadUnderLoad rotates the merchant key and the WeChat
// Pay public key with POST /wechatpay/keys/reload while four keep-alive
// clients send presign requests: not one request fails, none is lost or
// sent twice, and every request sent after the reload answered uses the
// new keys.
func TestIntegrationKeyReloadUnderLoad(t *testing.T) {
	stub := testkit.NewStub(t)
	old, fresh := testkit.Creds(), testkit.Rotated()
	files := newKeyFiles(t, old)
	tester := newTester(t)
	loadCaddyfile(t, tester, `{
`+testGlobals("10s")+`}
`+proxyURL+` {
	bind 127.0.0.1
	wechatpay {
		`+files.options(old.MchID)+`
	}
	reverse_proxy `+strings.TrimPrefix(stub.URL, "http://")+`
}
`)

	if code, reports, body := adminCall(t, http.MethodGet, "/wechatpay/keys"); code != 200 || len(reports) != 1 ||
		reports[0].SerialNo != old.SerialNo || reports[0].WechatPaySerial != old.PublicKeyID {
		t.Fatalf("GET /wechatpay/keys before: %d %s", code, body)
	}
	if code, reports, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload"); code != 200 || len(reports) != 1 || *reports[0].Changed {
		t.Fatalf("a reload with the same files must change nothing: %d %s", code, body)
	}

	client := &http.Client{Timeout: 10 * time.Second} // keep-alive, as apps do
	var reloaded atomic.Bool
	load := startPresignLoad(client, proxyURL, 4, func(r *http.Request) {
		r.Header.Set("X-After-Reload", strconv.FormatBool(reloaded.Load()))
	})
	load.awaitSent(t, 40)
	before := load.sent.Load()
	files.write(t, fresh)
	code, reports, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload")
	reloaded.Store(true)
	load.awaitSent(t, load.sent.Load()+load.workers+40)
	load.finish()

	if code != 200 || len(reports) != 1 || !*reports[0].Changed || reports[0].SerialNo != fresh.SerialNo ||
		reports[0].WechatPaySerial != fresh.PublicKeyID || fmt.Sprint(reports[0].WechatPayKeys) != "["+fresh.PublicKeyID+"]" {
		t.Fatalf("POST /wechatpay/keys/reload: %d %s", code, body)
	}
	got := stub.Requests()
	sent := load.sent.Load()
	t.Logf("%d requests (%d before the reload): %d dropped, %d wrong answers; the stand-in received %d",
		sent, before, load.dropped.Load(), load.bad.Load(), len(got))
	if load.dropped.Load() != 0 || load.bad.Load() != 0 {
		t.Errorf("%d requests dropped (first: %v), %d wrong answers (first: %v)",
			load.dropped.Load(), load.firstDrop.Load(), load.bad.Load(), load.firstBad.Load())
	}
	if int64(len(got)) != sent {
		t.Errorf("the stand-in received %d requests for %d sent: a request was lost or sent twice", len(got), sent)
	}
	if before < 10 || sent-before < 10 {
		t.Errorf("too little load to mean anything: %d before, %d in all", before, sent)
	}
	var after, oldKeys, newKeys int
	for _, r := range got {
		if r.SignatureOK != nil {
			t.Errorf("the stand-in refused a signature: %v", r.SignatureOK)
		}
		m := testkit.AuthorizationRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			t.Fatalf("no Authorization: %q", r.Header.Get("Authorization"))
		}
		usesNew := m[5] == fresh.SerialNo && r.Header.Get("Wechatpay-Serial") == fresh.PublicKeyID
		usesOld := m[5] == old.SerialNo && r.Header.Get("Wechatpay-Serial") == old.PublicKeyID
		switch {
		case usesNew:
			newKeys++
		case usesOld:
			oldKeys++
		default:
			t.Errorf("a request mixes keys: serial_no %s, Wechatpay-Serial %s", m[5], r.Header.Get("Wechatpay-Serial"))
		}
		if r.Header.Get("X-After-Reload") == "true" {
			after++
			if !usesNew {
				t.Errorf("a request sent after the reload answered still uses the old keys")
			}
		}
		for path, plain := range testkit.PresignPlain {
			if r.Decrypted[path] != plain {
				t.Errorf("%s does not decrypt under the key named in Wechatpay-Serial", path)
			}
		}
	}
	if after < 10 || oldKeys == 0 {
		t.Errorf("%d requests after the reload, %d with the old keys: the test did not span the reload", after, oldKeys)
	}
}

// TestIntegrationKeyReloadAllOrNothing reloads the keys of a merchant of the
// app and of a wechatpay_notify handler with keys of its own: a key that
// fails to load leaves every key as it was, with a message that names the
// holder and the option but no key material; once fixed, both change.
func TestIntegrationKeyReloadAllOrNothing(t *testing.T) {
	stub := testkit.NewStub(t)
	old, fresh := testkit.Creds(), testkit.Rotated()
	files := newKeyFiles(t, old)
	tester := newTester(t)
	loadCaddyfile(t, tester, `{
`+testGlobals("1ns")+`	wechatpay {
		merchant acme {
			`+files.options(old.MchID)+`
		}
	}
}
`+proxyURL+` {
	bind 127.0.0.1
	handle /notify {
		wechatpay_notify {
			apiv3_key     0123456789abcdef0123456789abcdef
			public_key_id `+files.placeholder("notify_pub_key_id")+`
			public_key    `+files.placeholder("notify_pub_key.pem")+`
		}
		respond 204
	}
	handle {
		wechatpay {
			merchant acme
		}
		reverse_proxy `+strings.TrimPrefix(stub.URL, "http://")+`
	}
}
`)

	_, start, body := adminCall(t, http.MethodGet, "/wechatpay/keys")
	if len(start) != 2 || start[0].Holder != "merchant acme" || !strings.HasPrefix(start[1].Holder, "wechatpay_notify handler") {
		t.Fatalf("GET /wechatpay/keys: %s", body)
	}

	files.write(t, fresh)
	// A file cut short in the copy: its first half, with no END line.
	whole := testkit.PublicPEM(&fresh.WechatPayKey.PublicKey)
	garbage := whole[:len(whole)/2]
	files.replace(t, "notify_pub_key.pem", garbage)
	code, _, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload")
	if code != http.StatusBadRequest || !strings.Contains(body, "wechatpay_notify handler") ||
		!strings.Contains(body, "public_key") || !strings.Contains(body, "no key was changed") {
		t.Errorf("a reload with a broken key: %d %s", code, body)
	}
	if strings.Contains(body, garbage[30:60]) || strings.Contains(body, "PRIVATE KEY") {
		t.Errorf("the error quotes key material: %s", body)
	}
	if _, now, body := adminCall(t, http.MethodGet, "/wechatpay/keys"); fmt.Sprint(now) != fmt.Sprint(start) {
		t.Errorf("a failed reload changed keys: %s", body)
	}
	resp, err := http.Post(proxyURL+"/v3/eduschoolpay/contracts/presign", "application/json", strings.NewReader(testkit.PresignBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m := testkit.AuthorizationRE.FindStringSubmatch(stub.Requests()[0].Header.Get("Authorization")); resp.StatusCode != 200 || m == nil || m[5] != old.SerialNo {
		t.Errorf("after a failed reload: %d, want the old keys in use", resp.StatusCode)
	}

	files.write(t, fresh)
	code, reports, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload")
	if code != 200 || len(reports) != 2 || !*reports[0].Changed || !*reports[1].Changed ||
		reports[0].SerialNo != fresh.SerialNo || fmt.Sprint(reports[1].WechatPayKeys) != "["+fresh.PublicKeyID+"]" {
		t.Fatalf("reload: %d %s", code, body)
	}
	stub.Reset()
	resp, err = http.Post(proxyURL+"/v3/eduschoolpay/contracts/presign", "application/json", strings.NewReader(testkit.PresignBody))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := stub.Requests()[0]
	if m := testkit.AuthorizationRE.FindStringSubmatch(got.Header.Get("Authorization")); resp.StatusCode != 200 || m == nil || m[5] != fresh.SerialNo ||
		got.Header.Get("Wechatpay-Serial") != fresh.PublicKeyID || got.SignatureOK != nil {
		t.Errorf("after the reload: %d %s; the merchant's requests must use the new keys", resp.StatusCode, out)
	}

	if code, _, _ := adminCall(t, http.MethodGet, "/wechatpay/keys/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /wechatpay/keys/reload: %d, want 405", code)
	}

	// The same through `caddy wechatpay keys [--reload]`.
	admin := "localhost:" + strconv.Itoa(testPorts.admin)
	printed, err := caddyWechatpay("keys", "--address", admin, "--reload")
	if err != nil {
		t.Fatal(err)
	}
	if got := printed; !strings.Contains(got, "merchant acme\n  signs as    mchid "+old.MchID+", serial_no "+fresh.SerialNo) ||
		strings.Count(got, "reloaded    unchanged") != 2 || !regexp.MustCompile(`\nclock: this host is (in step with WeChat Pay|\d s (ahead of|behind) WeChat Pay) \(from \d+ verified signatures`).MatchString(got) {
		t.Errorf("caddy wechatpay keys --reload printed:\n%s", got)
	}
	files.replace(t, "apiclient_key.pem", "-----BEGIN PRIVATE KEY-----\nMIIE\n")
	if _, err := caddyWechatpay("keys", "--address", admin, "--reload"); err == nil || !strings.Contains(err.Error(), "merchant acme: private_key") ||
		!strings.Contains(err.Error(), "no key was changed") {
		t.Errorf("caddy wechatpay keys --reload with a broken key: %v", err)
	}
	printed, err = caddyWechatpay("keys", "--address", admin)
	if err != nil || !strings.Contains(printed, "encrypts    "+fresh.PublicKeyID) || strings.Contains(printed, "reloaded") {
		t.Errorf("caddy wechatpay keys: %v\n%s", err, printed)
	}
}

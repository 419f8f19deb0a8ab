package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/golivecheck"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// checkCase is one configuration run through `caddy wechatpay check`
// against the sandbox (or a stand-in), with the exit status and the line
// it must give.
type checkCase struct {
	name    string
	sandbox func(*sandbox.Config) // changes the simulator; nil: as is
	pubOnly bool                  // the simulator has no platform certificate for the merchant
	options func(o map[string]string)
	status  int
	check   string             // the line named
	want    golivecheck.Status // its status
	text    string             // a fragment of its text or fix
}

// otherMerchantKey is a merchant key WeChat Pay (the sandbox) does not know.
var otherMerchantKey = testkit.NewKey()

// checkOptionsFor returns the merchant options of the good public-key
// merchant, key files written into dir.
func merchantOptionsFor(t *testing.T, dir, url string) map[string]string {
	c := testkit.Creds()
	return map[string]string{
		"mchid":                c.MchID,
		"serial_no":            c.SerialNo,
		"private_key":          testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey)),
		"merchant_certificate": testkit.WriteFile(t, dir, "apiclient_cert.pem", testkit.CertPEM(testkit.MerchantCertificate(c))),
		"public_key_id":        c.PublicKeyID,
		"public_key":           testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)),
		"certificates_url":     url,
	}
}

// merchantCaddyfile writes a Caddyfile with one merchant "school" of the
// options (an empty value leaves the option out) and returns its path.
func merchantCaddyfile(t *testing.T, dir string, o map[string]string) string {
	var b strings.Builder
	b.WriteString("{\n\tadmin off\n\tstorage file_system " + dir + "/storage\n\twechatpay {\n\t\tmerchant school {\n")
	for _, k := range []string{"mchid", "serial_no", "private_key", "merchant_certificate", "public_key_id", "public_key", "platform_certificate", "apiv3_key", "certificates_url"} {
		if o[k] != "" {
			fmt.Fprintf(&b, "\t\t\t%s %s\n", k, o[k])
		}
	}
	b.WriteString("\t\t}\n\t}\n}\n:0 {\n\trespond ok\n}\n")
	return testkit.WriteFile(t, dir, "Caddyfile", b.String())
}

// TestCheckMerchants runs the check for each case the issue lists: a good
// merchant on the public key and one on platform certificates, a key of
// another merchant, a serial that does not match, the WeChat Pay public key
// of someone else, an unreachable URL and a skewed Date.
func TestCheckMerchants(t *testing.T) {
	c := testkit.Creds()
	someoneElses := testkit.NewKey()
	closed := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort())
	for _, tc := range []checkCase{
		{name: "good merchant on the public key", pubOnly: true, status: 0,
			check: golivecheck.CheckAnswer, want: golivecheck.OK, text: "WeChat Pay signed with the WeChat Pay public key " + c.PublicKeyID},
		{name: "good merchant on the public key: the 404 is accepted", pubOnly: true, status: 0,
			check: golivecheck.CheckSignature, want: golivecheck.OK, text: "404 RESOURCE_NOT_EXISTS"},
		{name: "good merchant on the public key: merchant certificate", pubOnly: true, status: 0,
			check: golivecheck.CheckMerchantCertificate, want: golivecheck.OK, text: "serial " + c.SerialNo + " belongs to private_key; 0 days left"},
		{name: "good merchant on platform certificates", status: 0,
			options: func(o map[string]string) {
				o["public_key_id"], o["public_key"] = "", ""
				o["apiv3_key"] = "{file." + testkit.WriteFile(t, t.TempDir(), "apiv3_key.txt", testkit.CertAPIv3Key) + "}"
			},
			check: golivecheck.CheckAnswer, want: golivecheck.OK, text: "platform certificate " + c.PlatformSerial + " (listed in the answer)"},
		{name: "merchant in the migration", status: 0,
			options: func(o map[string]string) {
				o["apiv3_key"] = "{file." + testkit.WriteFile(t, t.TempDir(), "apiv3_key.txt", testkit.CertAPIv3Key) + "}"
			},
			check: golivecheck.CheckAnswer, want: golivecheck.OK, text: "public key " + c.PublicKeyID + " (configured); WeChat Pay still lists platform certificate(s) " + c.PlatformSerial},
		{name: "good merchant with a configured platform certificate", status: 0,
			options: func(o map[string]string) {
				o["public_key_id"], o["public_key"] = "", ""
				o["platform_certificate"] = testkit.WriteFile(t, t.TempDir(), "wechatpay.pem", testkit.CertPEM(c.PlatformCert))
			},
			check: golivecheck.CheckAnswer, want: golivecheck.OK, text: "platform certificate " + c.PlatformSerial + " (configured)"},
		{name: "an expired platform certificate beside the public key", pubOnly: true, status: 0,
			options: func(o map[string]string) {
				old := testkit.SelfSigned(testkit.NewKey(), "1A2B3C", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
				o["platform_certificate"] = testkit.WriteFile(t, t.TempDir(), "old.pem", testkit.CertPEM(old))
			},
			check: golivecheck.CheckWechatPayKeys, want: golivecheck.Warn, text: "platform certificate 1A2B3C (expired 1 day ago)"},
		{name: "key of another merchant", pubOnly: true, status: 1,
			options: func(o map[string]string) {
				o["private_key"] = testkit.WriteFile(t, t.TempDir(), "other_key.pem", testkit.PKCS8(otherMerchantKey))
				o["merchant_certificate"] = ""
			},
			check: golivecheck.CheckSignature, want: golivecheck.Fail, text: "private_key: the signature does not verify"},
		{name: "key of another merchant: WeChat Pay's code and message are quoted", pubOnly: true, status: 1,
			options: func(o map[string]string) {
				o["private_key"] = testkit.WriteFile(t, t.TempDir(), "other_key.pem", testkit.PKCS8(otherMerchantKey))
				o["merchant_certificate"] = ""
			},
			check: golivecheck.CheckSignature, want: golivecheck.Fail, text: `401 SIGN_ERROR "错误的签名，验签失败"`},
		{name: "key of another merchant, with its certificate", pubOnly: true, status: 1,
			options: func(o map[string]string) {
				o["private_key"] = testkit.WriteFile(t, t.TempDir(), "other_key.pem", testkit.PKCS8(otherMerchantKey))
			},
			check: golivecheck.CheckMerchantCertificate, want: golivecheck.Fail, text: "is not private_key's"},
		{name: "serial that does not match", pubOnly: true, status: 1,
			options: func(o map[string]string) {
				o["serial_no"] = "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A"
				o["merchant_certificate"] = ""
			},
			check: golivecheck.CheckSignature, want: golivecheck.Fail, text: "serial_no: WeChat Pay knows no merchant API certificate of this serial"},
		{name: "serial that does not match its certificate", pubOnly: true, status: 1,
			options: func(o map[string]string) { o["serial_no"] = "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A" },
			check:   golivecheck.CheckMerchantCertificate, want: golivecheck.Fail, text: "is not serial_no 5A5A"},
		{name: "WeChat Pay public key of someone else", pubOnly: true, status: 1,
			options: func(o map[string]string) {
				o["public_key"] = testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&someoneElses.PublicKey))
			},
			check: golivecheck.CheckAnswer, want: golivecheck.Fail, text: "public_key: it is not the WeChat Pay public key of " + c.PublicKeyID},
		{name: "WeChat Pay public key ID of someone else", pubOnly: true, status: 1,
			options: func(o map[string]string) {
				o["public_key_id"] = "PUB_KEY_ID_0114232134912410000000000777"
				o["public_key"] = testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&someoneElses.PublicKey))
			},
			check: golivecheck.CheckAnswer, want: golivecheck.Fail, text: "public_key_id: set it to " + c.PublicKeyID},
		{name: "unreachable URL", status: 1,
			options: func(o map[string]string) { o["certificates_url"] = closed },
			check:   golivecheck.CheckSignature, want: golivecheck.Fail, text: "no answer from " + closed + "/v3/certificates"},
		{name: "skewed Date", pubOnly: true, status: 1,
			sandbox: func(cfg *sandbox.Config) { cfg.Now = func() time.Time { return time.Now().Add(-90 * time.Second) } },
			check:   golivecheck.CheckClock, want: golivecheck.Fail, text: "s ahead of WeChat Pay, by WeChat Pay's Date header"},
		{name: "skewed Date past 5 minutes", pubOnly: true, status: 1,
			sandbox: func(cfg *sandbox.Config) { cfg.Now = func() time.Time { return time.Now().Add(6 * time.Minute) } },
			check:   golivecheck.CheckSignature, want: golivecheck.Fail, text: "the clock: this host's time is 5 minutes or more away"},
		{name: "merchant on platform certificates without apiv3_key or keys", status: 1,
			options: func(o map[string]string) { o["public_key_id"], o["public_key"] = "", "" },
			check:   golivecheck.CheckWechatPayKeys, want: golivecheck.Fail, text: "no WeChat Pay key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := testkit.NewCertSandbox(t, tc.sandbox)
			cs.Srv.SetPublicKeyOnly(tc.pubOnly)
			dir := t.TempDir()
			o := merchantOptionsFor(t, dir, cs.TS.URL)
			if tc.options != nil {
				tc.options(o)
			}
			config := merchantCaddyfile(t, dir, o)
			text, report := runCheckBoth(t, config, tc.status)
			line := report.Targets[0].Line(tc.check)
			if line == nil {
				t.Fatalf("no %s line:\n%s", tc.check, text)
			}
			if line.Status != tc.want || !strings.Contains(line.Text+" → "+line.Fix, tc.text) {
				t.Errorf("%s line: %s %q → %q, want %s with %q\n%s", tc.check, line.Status, line.Text, line.Fix, tc.want, tc.text, text)
			}
			assertCheckPrintsNoKey(t, text)
			if tc.status == 0 && cs.Downloads.Load() != 2 {
				t.Errorf("%d calls to WeChat Pay for two runs, want one each", cs.Downloads.Load())
			}
		})
	}
}

// runCheckBoth runs the check on config as text and as JSON and returns
// both, checking the exit status of each and that they agree.
func runCheckBoth(t *testing.T, config string, wantStatus int, extra ...func(*checkOptions)) (string, *golivecheck.Report) {
	t.Helper()
	opts := checkOptions{configFile: config}
	for _, f := range extra {
		f(&opts)
	}
	var text, js bytes.Buffer
	status, err := runCheck(context.Background(), &text, opts)
	if status != wantStatus || (err != nil) != (wantStatus != 0) {
		t.Fatalf("exit status %d (%v), want %d\n%s", status, err, wantStatus, text.String())
	}
	opts.json = true
	if status, _ := runCheck(context.Background(), &js, opts); status != wantStatus {
		t.Fatalf("--json: exit status %d, want %d\n%s", status, wantStatus, js.String())
	}
	var report golivecheck.Report
	if err := json.Unmarshal(js.Bytes(), &report); err != nil {
		t.Fatalf("--json is not one JSON document: %v\n%s", err, js.String())
	}
	if report.OK != (wantStatus == 0) || len(report.Targets) == 0 {
		t.Fatalf("--json: ok %v, %d targets\n%s", report.OK, len(report.Targets), js.String())
	}
	// The same lines, each with its mark (the texts differ between two
	// calls: Request-ID, the clock).
	var marks []string
	for _, tg := range report.Targets {
		if !strings.Contains(text.String(), tg.Name) {
			t.Errorf("the JSON target %q is not in the text output", tg.Name)
		}
		for _, l := range tg.Lines {
			marks = append(marks, map[golivecheck.Status]string{golivecheck.OK: "✓", golivecheck.Fail: "✗",
				golivecheck.Warn: "⚠", golivecheck.Skipped: "–"}[l.Status]+" "+l.Check+":")
		}
	}
	var textMarks []string
	for _, line := range strings.Split(text.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(line, "  ") && strings.HasSuffix(f[1], ":") && f[0] != "→" {
			textMarks = append(textMarks, f[0]+" "+f[1])
		}
	}
	if strings.Join(marks, "\n") != strings.Join(textMarks, "\n") {
		t.Errorf("the JSON lines\n%s\nare not the text lines\n%s", strings.Join(marks, "\n"), strings.Join(textMarks, "\n"))
	}
	return text.String(), &report
}

// assertCheckPrintsNoKey fails when out holds any piece of a private key
// (of the merchant's or the other merchant's), the APIv3 key, a PEM armour
// or an Authorization header.
func assertCheckPrintsNoKey(t *testing.T, out string) {
	t.Helper()
	assertNoKeyMaterial(t, out, &provisionKeys{secrets: []string{
		testkit.PKCS8(testkit.Creds().MerchantKey), testkit.PKCS8(otherMerchantKey)}})
	for _, s := range []string{testkit.CertAPIv3Key[:12], "signature=", apiv3.AuthScheme} {
		if strings.Contains(out, s) {
			t.Errorf("the output holds %q:\n%s", s, out)
		}
	}
}

// TestCheckConfigDoesNotLoad: a config that does not load, an unknown
// --merchant and a bad --url exit with status 2, printing no report.
func TestCheckConfigDoesNotLoad(t *testing.T) {
	dir := t.TempDir()
	good := merchantCaddyfile(t, dir, merchantOptionsFor(t, dir, "http://127.0.0.1:1"))
	broken := testkit.WriteFile(t, dir, "Broken", "{\n\twechatpay {\n\t\tmerchant school {\n")
	empty := testkit.WriteFile(t, dir, "Empty", ":0 {\n\trespond ok\n}\n")
	for _, tc := range []struct {
		name string
		opts checkOptions
		want string
	}{
		{"missing file", checkOptions{configFile: dir + "/nowhere"}, "nowhere"},
		{"broken Caddyfile", checkOptions{configFile: broken, adapter: "caddyfile"}, "Broken"},
		{"nothing to check", checkOptions{configFile: empty, adapter: "caddyfile"}, "nothing to check"},
		{"unknown merchant", checkOptions{configFile: good, merchant: "canteen"}, `merchant "canteen" is not in the config (defined: school)`},
		{"bad --url", checkOptions{configFile: good, url: "ftp://x"}, "--url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			status, err := runCheck(context.Background(), &out, tc.opts)
			if status != 2 || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("status %d, %v; want 2 and an error with %q", status, err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed a report: %s", out.String())
			}
		})
	}
}

// TestCheckInlineHandlers: a wechatpay handler with keys of its own is
// checked against the upstream of its reverse_proxy (or --url), a
// wechatpay_notify handler's keys are checked without a call, and a
// handler that names a merchant is left to the merchant.
func TestCheckInlineHandlers(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	cs.Srv.SetPublicKeyOnly(true)
	dir := t.TempDir()
	o := merchantOptionsFor(t, dir, cs.TS.URL)
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	config := testkit.WriteFile(t, dir, "Caddyfile", `{
	admin off
}
:0 {
	handle /v3/* {
		wechatpay {
			mchid         `+c.MchID+`
			serial_no     `+c.SerialNo+`
			private_key   `+o["private_key"]+`
			public_key_id `+c.PublicKeyID+`
			public_key    `+o["public_key"]+`
		}
		reverse_proxy `+cs.TS.URL+`
	}
	handle /notify {
		wechatpay_notify {
			apiv3_key     {file.`+apiv3+`}
			public_key_id `+c.PublicKeyID+`
			public_key    `+o["public_key"]+`
			dedup off
		}
		reverse_proxy 127.0.0.1:9
	}
}
`)
	text, report := runCheckBoth(t, config, 0)
	if len(report.Targets) != 2 {
		t.Fatalf("%d targets, want the handler and the notify route:\n%s", len(report.Targets), text)
	}
	h, n := report.Targets[0], report.Targets[1]
	if strings.HasPrefix(h.Name, "wechatpay_notify") {
		h, n = n, h // Caddy orders the routes: /notify before /v3/*
	}
	if !strings.HasPrefix(h.Name, "wechatpay handler #1 of server srv0") || h.URL != cs.TS.URL+"/v3/certificates" {
		t.Errorf("handler %q called %q, want its upstream %s", h.Name, h.URL, cs.TS.URL)
	}
	if l := h.Line(golivecheck.CheckAnswer); l == nil || l.Status != golivecheck.OK {
		t.Errorf("handler: answer line %+v\n%s", l, text)
	}
	if !strings.HasPrefix(n.Name, "wechatpay_notify handler #1") || n.URL != "" || n.Line(golivecheck.CheckSignature) != nil {
		t.Errorf("notify route %q called %q: it signs nothing, so nothing is called\n%s", n.Name, n.URL, text)
	}
	if l := n.Line(golivecheck.CheckAPIv3Key); l == nil || l.Status != golivecheck.OK || l.Text != "32 bytes" {
		t.Errorf("notify route: apiv3_key line %+v", l)
	}
	assertCheckPrintsNoKey(t, text)

	// --url sends the call elsewhere: here nowhere.
	closed := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort())
	_, report = runCheckBoth(t, config, 1, func(opts *checkOptions) { opts.url = closed })
	for _, tg := range report.Targets {
		if l := tg.Line(golivecheck.CheckSignature); strings.HasPrefix(tg.Name, "wechatpay handler") && (l == nil || !strings.Contains(l.Text, closed)) {
			t.Errorf("--url: signature line %+v", l)
		}
	}
}

// TestCheckStartsNothing: the check writes nothing to the storage of the
// config (a merchant that downloads platform certificates included) and
// listens on no port.
func TestCheckStartsNothing(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	dir := t.TempDir()
	o := merchantOptionsFor(t, dir, cs.TS.URL)
	o["public_key_id"], o["public_key"] = "", ""
	o["apiv3_key"] = "{file." + testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key) + "}"
	port := testkit.FreePort()
	config := merchantCaddyfile(t, dir, o)
	site := fmt.Sprintf("127.0.0.1:%d", port)
	if err := appendFile(config, "http://"+site+" {\n\trespond ok\n}\n"); err != nil {
		t.Fatal(err)
	}
	runCheckBoth(t, config, 0)
	if entries, _ := filepath.Glob(dir + "/storage/*"); len(entries) != 0 {
		t.Errorf("the check wrote to the storage: %v", entries)
	}
	if resp, err := http.Get("http://" + site); err == nil {
		resp.Body.Close()
		t.Errorf("something listens on %s after the check", site)
	}
}

// appendFile adds text to the end of the file at path.
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

// TestCheckNotifyKeys: a wechatpay_notify route's own keys, and the
// options it refuses at start (wechatpay_serial, no apiv3_key).
func TestCheckNotifyKeys(t *testing.T) {
	c := testkit.Creds()
	pub := testkit.WriteFile(t, t.TempDir(), "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	keys := WechatPayKeys{PublicKeyID: c.PublicKeyID, PublicKey: pub}
	for _, tc := range []struct {
		name     string
		keys     keyOptions
		wantKeys golivecheck.Status
		wantV3   golivecheck.Status
	}{
		{"good", keyOptions{apiv3Key: testkit.CertAPIv3Key, WechatPayKeys: keys}, golivecheck.OK, golivecheck.OK},
		{"no apiv3_key", keyOptions{WechatPayKeys: keys}, golivecheck.OK, golivecheck.Fail},
		{"apiv3_key of 31 bytes", keyOptions{apiv3Key: testkit.CertAPIv3Key[1:], WechatPayKeys: keys}, golivecheck.OK, golivecheck.Fail},
		{"wechatpay_serial", keyOptions{apiv3Key: testkit.CertAPIv3Key,
			WechatPayKeys: WechatPayKeys{PublicKeyID: c.PublicKeyID, PublicKey: pub, WechatPaySerial: c.PublicKeyID}}, golivecheck.Fail, golivecheck.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := (&checkTarget{name: "wechatpay_notify handler", notify: true, keys: tc.keys}).run(context.Background(), nil)
			k, v3 := out.Line(golivecheck.CheckWechatPayKeys), out.Line(golivecheck.CheckAPIv3Key)
			if k == nil || v3 == nil || k.Status != tc.wantKeys || v3.Status != tc.wantV3 {
				t.Errorf("lines %+v", out.Lines)
			}
			if out.URL != "" || out.Line(golivecheck.CheckSignature) != nil {
				t.Errorf("a notify route made a call: %+v", out)
			}
			var b bytes.Buffer
			_ = golivecheck.NewReport([]*golivecheck.Target{out}).WriteText(&b)
			assertCheckPrintsNoKey(t, b.String())
		})
	}
}

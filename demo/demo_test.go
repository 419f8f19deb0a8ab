package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	wechatpay "github.com/caddy-wechatpay/caddy-wechatpay"
	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// The tests share one credentials set (key generation is the slow part).
// Caddy is one per process, so none of them runs in parallel.
var credsDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "demo-creds-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	credsDir = filepath.Join(dir, "keys")
	if _, err := sandbox.GenerateCredentials(credsDir, ""); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// freeAddr returns a loopback address with a port nobody listens on, held
// for this process so that two calls never give the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(testkit.FreePort())
}

// assertClosed fails if anything still listens on addr.
func assertClosed(t *testing.T, what, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the %s (%s) still accepts connections after Run returned", what, addr)
	}
}

func runDemo(t *testing.T, opts demo.Options) (string, error) {
	t.Helper()
	if opts.Caddyfile == "" {
		opts.Caddyfile = wechatpay.ExampleCaddyfile
	}
	if opts.Dir == "" {
		opts.Dir = credsDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := demo.Run(ctx, &out, opts)
	return out.String(), err
}

// mediaIDRE finds the media_id step 9 reports: WeChat Pay's are opaque
// strings, the simulator's 80 characters of [A-Za-z0-9_-].
var mediaIDRE = regexp.MustCompile(`✓ media_id received: ([A-Za-z0-9_-]{80})\n`)

func TestRun(t *testing.T) {
	proxy, sim := freeAddr(t), freeAddr(t)
	out, err := runDemo(t, demo.Options{Listen: proxy, SandboxListen: sim})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	want := []string{
		"\n1. Credentials", "NOT FOR PRODUCTION",
		"\n2. Simulator", "Listening on http://" + sim,
		"\n3. Proxy", "Listening on http://" + proxy, "WECHATPAY_PRIVATE_KEY=",
		"\n4. The app calls", `"real_name": "张三"`, "POST http://" + proxy + "/v3/eduschoolpay/contracts/presign",
		"\n5. What reached", "WECHATPAY2-SHA256-RSA2048", "Wechatpay-Serial: PUB_KEY_ID_", "…(344 chars)",
		"\n6. What the simulator verified", "✓ signature", "identity.real_name = 张三",
		"identity.id_card_number = 110101199003071234", "bank_card.bank_card_no = 6222021234567890123",
		"bank_card.phone = 13800138000", "identity.credential_type = IDENTITY_CARD",
		"\n7. What the app got back", "HTTP 200", "presign_token received: sandbox_", "verified the answer's signature",
		"\n8. WeChat Pay calls back", "Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048", `"algorithm": "AEAD_AES_256_GCM"`,
		"Wechatpay-Notification-Id: EV-", `"trade_state": "SUCCESS"`, "What WeChat Pay got back: HTTP 204",
		"sent again: HTTP 204, and the app was not called again", "forged callback (probe signature) got HTTP 401",
		"\n9. The app uploads an image", "POST http://" + proxy + "/v3/merchant/media/upload  (no Authorization)",
		"Content-Type: multipart/form-data; boundary=", `{"filename":"demo.png","sha256":"`, "a 16×16 PNG of",
		"✓ as the app sent it", "✓ byte for byte what the app sent", "-byte meta part, not the multipart body) verified",
		"✓ meta part", "✓ file part", "✓ file sha256", "✓ file extension  png", "✓ file size",
		"What the app got back: HTTP 200", "✓ media_id received: ",
		"\n10. The app takes a JSAPI / mini program payment", "POST http://" + proxy + "/v3/pay/transactions/jsapi  (no Authorization",
		`"request_payment":`, `"package": "prepay_id=wx`, `"signType": "RSA"`, `"paySign": "`, "wx.requestPayment",
		"✓ signature", "✓ the payment sheet would open",
		"✓ Demo passed", "./caddy wechatpay check --config Caddyfile.example", "./caddy run --config Caddyfile.example", "caddy wechatpay sandbox", "caddy wechatpay notify",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if strings.Contains(out, "✗") {
		t.Errorf("output shows a failure")
	}
	// Step 5 shows ciphertext, never the plaintext, at the sensitive paths.
	step5 := out[strings.Index(out, "\n5. "):strings.Index(out, "\n6. ")]
	for _, plain := range []string{"张三", "110101199003071234", "6222021234567890123", "13800138000"} {
		if strings.Contains(step5, plain) {
			t.Errorf("step 5 shows plaintext %q", plain)
		}
	}
	// Step 9 shows the media_id the app got, and never the image's bytes.
	step9 := out[strings.Index(out, "\n9. "):]
	if m := mediaIDRE.FindStringSubmatch(step9); m == nil || !strings.Contains(step9, `"media_id": "`+m[1]+`"`) {
		t.Errorf("step 9 shows no media_id of 80 characters in the answer")
	}
	if strings.Contains(step9, "\x89PNG") || strings.Contains(step9, "IHDR") {
		t.Errorf("step 9 prints the image's bytes")
	}
	// Step 11 shows the module's series for the demo's own requests.
	creds, err := sandbox.LoadOrGenerateCredentials(credsDir, "")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out, "\n11. ")
	if i < 0 {
		t.Fatalf("no step 11\n%s", out)
	}
	step11 := out[i:]
	for _, series := range []string{
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",merchant="` + creds.MchID + `",method="POST",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/merchant/media/upload",merchant="` + creds.MchID + `",method="POST",outcome="verified"} 1`,
		`caddy_wechatpay_encrypted_fields_total{merchant="` + creds.MchID + `"} 5`,
		`caddy_wechatpay_callbacks_total{event_type="TRANSACTION.SUCCESS",merchant="` + creds.PublicKeyID + `",outcome="delivered"} 1`,
		`caddy_wechatpay_callbacks_total{event_type="TRANSACTION.SUCCESS",merchant="` + creds.PublicKeyID + `",outcome="duplicate"} 1`,
		`caddy_wechatpay_callbacks_total{event_type="",merchant="` + creds.PublicKeyID + `",outcome="SIGNATURE_PROBE"} 1`,
		`caddy_wechatpay_request_duration_seconds_count{merchant="` + creds.MchID + `",stage="upstream"} 3`,
	} {
		if !strings.Contains(step11, "     "+series+"\n") {
			t.Errorf("step 11 lacks %s", series)
		}
	}
	if strings.Contains(step11, "_bucket{") || strings.Contains(step11, "# TYPE") {
		t.Errorf("step 11 prints buckets or comments")
	}
	if t.Failed() || testing.Verbose() {
		t.Log("\n" + out)
	}
	assertClosed(t, "proxy", proxy)
	assertClosed(t, "simulator", sim)
	for _, v := range []string{"WECHATPAY_MCHID", "WECHATPAY_PRIVATE_KEY"} {
		if _, set := os.LookupEnv(v); set {
			t.Errorf("%s left set", v)
		}
	}
}

func TestRunGzipAnswerPasses(t *testing.T) {
	out, err := runDemo(t, demo.Options{Listen: freeAddr(t), Faults: sandbox.Faults{Gzip: true}})
	if err != nil {
		t.Fatalf("a gzip answer is valid and must pass: %v\n%s", err, out)
	}
}

func TestRunFailsOnForgedAnswer(t *testing.T) {
	for _, fault := range []string{"wrong-key", "stale-timestamp", "omit-signature"} {
		t.Run(fault, func(t *testing.T) {
			faults, err := demo.ParseFaults([]string{fault})
			if err != nil {
				t.Fatal(err)
			}
			proxy, sim := freeAddr(t), freeAddr(t)
			out, err := runDemo(t, demo.Options{Listen: proxy, SandboxListen: sim, Faults: faults})
			if err == nil || !strings.Contains(err.Error(), "without a presign_token") {
				t.Fatalf("Run = %v, want a failure for the missing presign_token\n%s", err, out)
			}
			if !strings.Contains(err.Error(), "HTTP 502 for the upload without a media_id") {
				t.Errorf("Run = %v, want step 9 to fail too: the upload's answer is forged as well", err)
			}
			creds, err := sandbox.LoadOrGenerateCredentials(credsDir, "")
			if err != nil {
				t.Fatal(err)
			}
			// Step 11 counts the refusals: the presign's, the upload's and the prepay call's.
			code := map[string]string{"wrong-key": "SIGNATURE_INVALID", "stale-timestamp": "TIMESTAMP_EXPIRED", "omit-signature": "SIGNATURE_MISSING"}[fault]
			for _, w := range []string{"HTTP 502", "refused the simulator's faulty answer", "✗ Demo FAILED",
				`endpoint="/v3/eduschoolpay/contracts/presign",merchant="` + creds.MchID + `",method="POST",outcome="` + code + `"} 1`,
				`caddy_wechatpay_response_verification_failures_total{code="` + code + `",merchant="` + creds.MchID + `"} 3`} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q\n%s", w, out)
				}
			}
			assertClosed(t, "proxy", proxy)
			assertClosed(t, "simulator", sim)
		})
	}
}

// TestRunFailsOnUpload: step 9 alone fails the demo when the upload does
// not reach WeChat Pay as the app sent it, here through a proxy whose
// Caddyfile answers it itself or sends it to another endpoint.
func TestRunFailsOnUpload(t *testing.T) {
	for name, tc := range map[string]struct{ directive, want string }{
		"answered by the proxy": {
			"respond " + sandbox.MediaUploadPath + ` ` + "`" + `{"media_id":"made-up"}` + "`" + ` 200`,
			"no upload reached the simulator",
		},
		"sent to another endpoint": {
			"rewrite " + sandbox.MediaUploadPath + " " + sandbox.VideoUploadPath,
			`the simulator's check "file extension" of the upload failed`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			caddyfile := strings.Replace(wechatpay.ExampleCaddyfile, "\twechatpay {", "\t"+tc.directive+"\n\n\twechatpay {", 1)
			if caddyfile == wechatpay.ExampleCaddyfile {
				t.Fatal("Caddyfile.example has no `wechatpay {` line to put the directive before")
			}
			out, err := runDemo(t, demo.Options{Caddyfile: caddyfile, Listen: freeAddr(t)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want a failure with %q\n%s", err, tc.want, out)
			}
			i := strings.Index(out, "\n9. ")
			if i < 0 || strings.Contains(out[:i], "✗") {
				t.Errorf("steps 1 to 8 do not pass alone\n%s", out)
			}
			if !strings.Contains(out, "✗ Demo FAILED") {
				t.Errorf("output lacks the failure\n%s", out)
			}
			if testing.Verbose() {
				t.Log("\n" + out[i:])
			}
		})
	}
}

func TestRunFailsWhenProxyPortIsTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sim := freeAddr(t)
	out, err := runDemo(t, demo.Options{Listen: busy.Addr().String(), SandboxListen: sim})
	if err == nil || !strings.Contains(err.Error(), "step 3") {
		t.Fatalf("Run = %v, want a step 3 failure\n%s", err, out)
	}
	assertClosed(t, "simulator", sim)
}

func TestRunFailsOnBrokenCredentials(t *testing.T) {
	dir := t.TempDir()
	if _, err := sandbox.GenerateCredentials(dir, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sandbox.MerchantKeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runDemo(t, demo.Options{Dir: dir, Listen: freeAddr(t)})
	if err == nil || !strings.Contains(err.Error(), "step 1") {
		t.Fatalf("Run = %v, want a step 1 failure\n%s", err, out)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string]demo.Options{
		"remote listen":         {Caddyfile: "x", Listen: "0.0.0.0:9180"},
		"remote sandbox listen": {Caddyfile: "x", SandboxListen: ":9181"},
		"no caddyfile":          {Caddyfile: " "},
	} {
		if err := demo.Run(context.Background(), &bytes.Buffer{}, opts); err == nil {
			t.Errorf("%s: Run succeeded", name)
		}
	}
	out, err := runDemo(t, demo.Options{Caddyfile: ":9180 {\n\trespond ok\n}\n", Listen: freeAddr(t)})
	if err == nil || !strings.Contains(err.Error(), "reverse_proxy") {
		t.Errorf("a Caddyfile without the WeChat Pay upstream: Run = %v\n%s", err, out)
	}
}

// TestApplyFaultsUnknown: an unknown name is refused with the list of
// every name the demo takes, its own included, sorted.
func TestApplyFaultsUnknown(t *testing.T) {
	var opts demo.Options
	err := demo.ApplyFaults(&opts, []string{"wrong-key,nope"})
	want := fmt.Sprintf("unknown fault %q (known: %s)", "nope", strings.Join(demo.DemoFaultNames(), ", "))
	if err == nil || err.Error() != want {
		t.Fatalf("ApplyFaults = %v, want %s", err, want)
	}
	if names := demo.DemoFaultNames(); !slices.IsSorted(names) || !slices.Contains(names, demo.TamperPaySignFault) {
		t.Errorf("DemoFaultNames = %v", names)
	}
}

// TestRunTamperedPaySign: with the tamper-paysign fault, the simulated
// WeChat client refuses the invocation of step 10 and the demo fails.
func TestRunTamperedPaySign(t *testing.T) {
	var opts demo.Options
	if err := demo.ApplyFaults(&opts, []string{"tamper-paysign"}); err != nil || !opts.TamperPaySign || opts.Faults.Any() {
		t.Fatalf("ApplyFaults: %v %+v", err, opts)
	}
	opts.Listen, opts.SandboxListen = freeAddr(t), freeAddr(t)
	out, err := runDemo(t, opts)
	if err == nil || !strings.Contains(err.Error(), "simulated WeChat client refused the invocation") {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	step10 := out[strings.Index(out, "\n10. "):]
	if !strings.Contains(step10, "✗ signature") || !strings.Contains(step10, "SIGN_INVALID") || !strings.Contains(out, "fault tamper-paysign") {
		t.Errorf("step 10 does not show the refusal:\n%s", step10)
	}
}

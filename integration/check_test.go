package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestCheckCommandExitStatus runs `caddy wechatpay check` in a real Caddy
// binary (built from bench/caddybin, which includes this module) against
// the sandbox: exit status 0 for a good merchant, 1 for a key of another
// merchant (with the signature line saying so), 2 for a config that does
// not load; --json prints one JSON document on stdout, nothing else.
func TestCheckCommandExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	cs.Srv.SetPublicKeyOnly(true)
	dir := t.TempDir()
	bin := filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "../bench/caddybin").CombinedOutput(); err != nil {
		t.Fatalf("building Caddy: %v\n%s", err, out)
	}
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	caddyfile := func(name string, key string) string {
		return testkit.WriteFile(t, dir, name, `{
	admin off
	storage file_system `+filepath.Join(dir, "storage")+`
	wechatpay {
		merchant school {
			mchid            `+c.MchID+`
			serial_no        `+c.SerialNo+`
			private_key      `+testkit.WriteFile(t, dir, name+".pem", key)+`
			public_key_id    `+c.PublicKeyID+`
			public_key       `+pub+`
			certificates_url `+cs.TS.URL+`
		}
	}
}
`)
	}
	good := caddyfile("good.caddyfile", testkit.PKCS8(c.MerchantKey))
	other := caddyfile("other.caddyfile", testkit.PKCS8(testkit.NewKey()))
	broken := testkit.WriteFile(t, dir, "Broken", "{\n\twechatpay {\n")
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, append([]string{"wechatpay", "check"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		out    string
	}{
		{"good merchant", []string{"--config", good}, 0, "✓ answer: verified: WeChat Pay signed with the WeChat Pay public key " + c.PublicKeyID},
		{"key of another merchant", []string{"--config", other}, 1, "✗ signature: WeChat Pay refuses it: 401 SIGN_ERROR"},
		{"config does not load", []string{"--config", broken, "--adapter", "caddyfile"}, 2, ""},
		{"unknown merchant", []string{"--config", good, "--merchant", "canteen"}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, stderr := run(tc.args...)
			if status != tc.status || !strings.Contains(stdout, tc.out) {
				t.Errorf("exit status %d, want %d; stdout lacks %q?\n%s\nstderr:\n%s", status, tc.status, tc.out, stdout, stderr)
			}
		})
	}
	status, stdout, stderr := run("--config", other, "--json")
	var report struct {
		OK      bool
		Targets []struct {
			Lines []struct{ Check, Status string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || status != 1 || report.OK {
		t.Fatalf("--json: status %d, %v, ok %v\n%s\nstderr:\n%s", status, err, report.OK, stdout, stderr)
	}
	if strings.Contains(stderr, "BEGIN") || strings.Contains(stdout, "BEGIN") {
		t.Error("a PEM block was printed")
	}
}

package integration

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestIntegrationValidateHasNoSideEffects: `caddy validate` (and `caddy
// adapt --validate`, which runs the same caddy.Validate) provisions a
// merchant that downloads its platform certificates without a single
// request to WeChat Pay and without writing to storage; running the same
// configuration downloads them and stores them, as Caddy's tls app does
// its certificates in Start.
func TestIntegrationValidateHasNoSideEffects(t *testing.T) {
	c := testkit.Creds()
	school := testkit.NewCertSandbox(t, nil)
	var requests atomic.Int32
	recording := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		school.Srv.ServeHTTP(w, r)
	}))
	t.Cleanup(recording.Close)

	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	config := "{\n" + testGlobals("1ns", "storage file_system "+storage) + `	wechatpay {
		merchant school {
			mchid            ` + c.MchID + `
			serial_no        ` + c.SerialNo + `
			private_key      ` + key + `
			apiv3_key        {file.` + apiv3 + `}
			certificates_url ` + recording.URL + `
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
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(config), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// The command, as a user runs it.
	file := testkit.WriteFile(t, dir, "Caddyfile", config)
	if out, err := caddyCommand("validate", "--config", file, "--adapter", "caddyfile"); err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
	if out, err := caddyCommand("adapt", "--config", file, "--adapter", "caddyfile", "--validate"); err != nil {
		t.Fatalf("caddy adapt --validate: %v\n%s", err, out)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("validate sent %d requests to WeChat Pay, want none", n)
	}
	// (Caddy's own pki app writes its local CA into storage/pki.)
	if written := filesUnder(t, filepath.Join(storage, "wechatpay")); len(written) > 0 {
		t.Errorf("validate wrote to the wechatpay storage: %v", written)
	}

	tester := newTester(t)
	loadCaddyfile(t, tester, config)
	if n := requests.Load(); n != 1 {
		t.Errorf("caddy run sent %d requests to WeChat Pay, want 1 download", n)
	}
	stored := filepath.Join(storage, "wechatpay", c.MchID, "platform_certificates.json")
	if raw, err := os.ReadFile(stored); err != nil || !strings.Contains(string(raw), c.PlatformSerial) {
		t.Errorf("certificates in storage after start: %v", err)
	}
	resp, body := send(t, tester, "POST", sandbox.PresignPath, []byte(testkit.PresignBody), "Content-Type", "application/json")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "presign_token") {
		t.Errorf("after start: status %d body %s", resp.StatusCode, body)
	}
}

// caddyCommand runs a caddy subcommand (validate, adapt, ...) as the caddy
// command would, and returns what it printed.
func caddyCommand(name string, args ...string) (string, error) {
	reg, ok := caddycmd.Commands()[name]
	if !ok {
		return "", fmt.Errorf("the %s command is not registered", name)
	}
	cmd := &cobra.Command{Use: name, SilenceUsage: true, SilenceErrors: true}
	reg.CobraFunc(cmd)
	var out strings.Builder
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

// filesUnder lists the files under dir (none when dir does not exist).
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

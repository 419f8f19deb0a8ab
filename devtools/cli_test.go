package devtools

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliCommand builds `caddy wechatpay` as registered with caddycmd.
func cliCommand(t *testing.T, out *syncBuffer, args ...string) *cobra.Command {
	t.Helper()
	reg, ok := caddycmd.Commands()["wechatpay"]
	if !ok || reg.CobraFunc == nil {
		t.Fatal("the wechatpay command is not registered")
	}
	cmd := &cobra.Command{Use: "wechatpay", SilenceUsage: true, SilenceErrors: true}
	reg.CobraFunc(cmd)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(out)
	return cmd
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out syncBuffer
	err := cliCommand(t, &out, args...).ExecuteContext(context.Background())
	return out.String(), err
}

func TestCLIKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kg")
	out, err := runCLI(t, "keygen", dir, "--mchid", "1900000109")
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	c, err := sandbox.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"NOT FOR PRODUCTION", "THROWAWAY", sandbox.MerchantKeyFile, sandbox.PublicKeyFile,
		"export WECHATPAY_MCHID=1900000109", "export WECHATPAY_SERIAL_NO=" + c.MerchantSerial,
		"export WECHATPAY_PRIVATE_KEY=" + filepath.Join(dir, sandbox.MerchantKeyFile),
		"export WECHATPAY_PUBLIC_KEY_ID=" + c.PublicKeyID,
		"export WECHATPAY_PUBLIC_KEY=" + filepath.Join(dir, sandbox.PublicKeyFile),
		"reverse_proxy http://127.0.0.1:9181",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\n%s", w, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY-----") {
		t.Error("keygen printed key material")
	}
	if out, err := runCLI(t, "keygen", dir); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second keygen into the same dir: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "keygen"); err == nil {
		t.Error("keygen without a directory succeeded")
	}
	if _, err := runCLI(t, "keygen", filepath.Join(t.TempDir(), "x"), "--mchid", "abc"); err == nil {
		t.Error("keygen with a non-numeric mchid succeeded")
	}
}

func TestCLISandboxRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"sandbox", "--dir", dir, "--listen", "0.0.0.0:9181"},
		{"sandbox", "--dir", dir, "--listen", ":9181"},
		{"sandbox", "--dir", dir, "--fault", "no-such-fault"},
		{"demo", "--dir", dir, "--listen", "192.0.2.1:9180"},
		{"demo", "--dir", dir, "--fault", "nope"},
		{"bogus"},
	} {
		if out, err := runCLI(t, args...); err == nil {
			t.Errorf("%v succeeded\n%s", args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, sandbox.CredentialsFile)); err == nil {
		t.Error("a refused command generated credentials")
	}
}

var listeningRE = regexp.MustCompile(`listening on http://(127\.0\.0\.1:\d+)`)

func TestCLISandboxServes(t *testing.T) {
	out, addr, stop := startSandboxCLI(t, "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--fault", "gzip")
	resp, err := http.Get("http://" + addr + "/v3/pay/transactions/native?secret=do-not-log")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned request got %d", resp.StatusCode)
	}
	stop()
	log := out.String()
	for _, w := range []string{"NOT FOR PRODUCTION", "Faults on: gzip", "export WECHATPAY_PUBLIC_KEY=",
		"reverse_proxy http://" + addr, "GET /v3/pay/transactions/native → 401 SIGN_ERROR", "sandbox stopped"} {
		if !strings.Contains(log, w) {
			t.Errorf("output lacks %q\n%s", w, log)
		}
	}
	if strings.Contains(log, "do-not-log") {
		t.Errorf("the request query was logged\n%s", log)
	}
}

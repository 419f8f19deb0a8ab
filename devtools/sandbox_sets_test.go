package devtools

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestCLISandboxServesSets: two keygen sets in one directory, one sandbox;
// the official SDK, as each merchant, gets answers it verifies with that
// merchant's own WeChat Pay key.
func TestCLISandboxServesSets(t *testing.T) {
	dir := t.TempDir()
	for _, mchid := range []string{"1900000001", "1900000002"} {
		if out, err := runCLI(t, "keygen", filepath.Join(dir, mchid), "--mchid", mchid); err != nil {
			t.Fatalf("keygen %s: %v\n%s", mchid, err, out)
		}
	}
	out, addr, stop := startSandboxCLI(t, "--dir", dir, "--listen", "127.0.0.1:0")
	ctx := context.Background()
	for _, mchid := range []string{"1900000001", "1900000002"} {
		c, err := sandbox.LoadCredentials(filepath.Join(dir, mchid))
		if err != nil {
			t.Fatal(err)
		}
		client, err := core.NewClient(ctx, option.WithWechatPayPublicKeyAuthCipher(
			c.MchID, c.MerchantSerial, c.MerchantPrivateKey, c.PublicKeyID, c.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		// The SDK verifies the answer with this merchant's public key.
		res, err := client.Post(ctx, "http://"+addr+sandbox.NativePayPath, map[string]any{"mchid": c.MchID})
		if err != nil {
			t.Errorf("merchant %s: %v", mchid, err)
		} else if res.Response.StatusCode != 200 {
			t.Errorf("merchant %s: %d", mchid, res.Response.StatusCode)
		}
		if !strings.Contains(out.String(), mchid+" | ") || !strings.Contains(out.String(), "POST "+sandbox.NativePayPath+" → 200") {
			t.Errorf("no request line of merchant %s\n%s", mchid, out.String())
		}
		if !strings.Contains(out.String(), "export WECHATPAY_MCHID="+mchid) {
			t.Errorf("the banner lacks merchant %s\n%s", mchid, out.String())
		}
	}
	stop()
	if log := out.String(); !strings.Contains(log, "Credentials: 2 sets in") {
		t.Errorf("banner:\n%s", log)
	}
}

// startSandboxCLI runs `caddy wechatpay sandbox args...` until stop, which
// checks that it stops cleanly; it returns its output and address.
func startSandboxCLI(t *testing.T, args ...string) (out *syncBuffer, addr string, stop func()) {
	t.Helper()
	out = &syncBuffer{}
	cmd := cliCommand(t, out, append([]string{"sandbox"}, args...)...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	for deadline := time.Now().Add(20 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not start\n%s", out.String())
		}
	}
	return out, addr, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sandbox returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the sandbox did not stop when its context ended")
		}
	}
}

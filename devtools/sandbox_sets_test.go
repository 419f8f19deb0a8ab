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
	var out syncBuffer
	cmd := cliCommand(t, &out, "sandbox", "--dir", dir, "--listen", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not start\n%s", out.String())
		}
	}
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
		if !strings.Contains(out.String(), "export WECHATPAY_MCHID="+mchid) {
			t.Errorf("the banner lacks merchant %s\n%s", mchid, out.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sandbox returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not stop when its context ended")
	}
	if log := out.String(); !strings.Contains(log, "Credentials: 2 sets in") {
		t.Errorf("banner:\n%s", log)
	}
}

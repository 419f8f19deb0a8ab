package integration

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestTwoCaddyProcessesShareStorage starts two real Caddy processes (built
// from bench/caddybin, which includes this module) with one merchant that
// downloads platform certificates and one file-system storage: one process
// downloads under the storage lock, the other takes the stored set, and
// both then serve verified responses.
func TestTwoCaddyProcessesShareStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two Caddy processes")
	}
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	dir := t.TempDir()
	bin := filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", bin, "../bench/caddybin")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building Caddy: %v\n%s", err, out)
	}
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	storage := filepath.Join(dir, "storage")

	var addrs []string
	for i := range 2 {
		port := testkit.FreePort()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		addrs = append(addrs, addr)
		cfg := testkit.WriteFile(t, dir, fmt.Sprintf("Caddyfile%d", i), `{
	admin off
	persist_config off
	storage file_system `+storage+`
	wechatpay {
		merchant school {
			mchid            `+c.MchID+`
			serial_no        `+c.SerialNo+`
			private_key      `+key+`
			apiv3_key        {file.`+apiv3+`}
			certificates_url `+cs.TS.URL+`
		}
	}
}
http://`+addr+` {
	wechatpay {
		merchant school
	}
	reverse_proxy `+strings.TrimPrefix(cs.TS.URL, "http://")+`
}
`)
		cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("instance %d:\n%s", i, logs.String())
			}
		})
	}
	for _, addr := range addrs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Caddy on %s did not start", addr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if n := cs.Downloads.Load(); n != 1 {
		t.Errorf("%d downloads of /v3/certificates by two instances sharing a storage, want 1", n)
	}
	for _, addr := range addrs {
		resp, err := http.Post("http://"+addr+"/v3/eduschoolpay/contracts/presign", "application/json", strings.NewReader(testkit.PresignBody))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", addr, resp.StatusCode)
		}
	}
}

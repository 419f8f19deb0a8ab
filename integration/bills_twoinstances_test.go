package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/tidwall/gjson"
)

// TestTwoCaddyProcessesShareBillRecords starts two real Caddy processes
// (bench/caddybin) on one file-system storage: a bill listed through one is
// downloaded, verified, through the other; the record in the storage is
// named by a hash, not by the download token.
func TestTwoCaddyProcessesShareBillRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two Caddy processes")
	}
	c := testkit.Creds()
	box := testkit.NewCertSandbox(t, nil)
	dir := t.TempDir()
	bin := filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "../bench/caddybin").CombinedOutput(); err != nil {
		t.Fatalf("building Caddy: %v\n%s", err, out)
	}
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	storage := filepath.Join(dir, "storage")
	var addrs []string
	for i := range 2 {
		addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort())
		addrs = append(addrs, addr)
		cfg := testkit.WriteFile(t, dir, fmt.Sprintf("Caddyfile%d", i), `{
	admin off
	persist_config off
	storage file_system `+storage+`
}
http://`+addr+` {
	wechatpay {
		mchid         `+c.MchID+`
		serial_no     `+c.SerialNo+`
		private_key   `+key+`
		public_key_id `+c.PublicKeyID+`
		public_key    `+pub+`
	}
	reverse_proxy `+strings.TrimPrefix(box.TS.URL, "http://")+`
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
	get := func(addr, uri string) (int, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + addr + uri)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	status, body := get(addrs[0], sandbox.TradeBillPath+"?bill_date=2026-12-07&tar_type=GZIP")
	if status != 200 {
		t.Fatalf("list through instance 0: %d %s", status, body)
	}
	ans := gjson.ParseBytes(body)
	uri := downloadPath(t, ans.Get("download_url").String())
	status, file := get(addrs[1], uri)
	if status != 200 {
		t.Fatalf("download through instance 1: %d %s", status, file)
	}
	if sha1Hex(gunzipAll(t, file)) != ans.Get("hash_value").String() {
		t.Error("the bill downloaded through instance 1 does not match the sandbox's hash_value")
	}
	if status, body := get(addrs[1], sandbox.BillDownloadPath+"?token=never-issued"); status != 502 || errorCode(body) != codeBillUnverified {
		t.Errorf("an unrecorded token through instance 1: %d %s", status, body)
	}
	token := strings.TrimPrefix(uri[strings.Index(uri, "?")+1:], "token=")
	var records int
	_ = filepath.Walk(filepath.Join(storage, "wechatpay_bills"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			records++
			if strings.Contains(p, token) {
				t.Errorf("a storage key names the download token: %s", p)
			}
		}
		return nil
	})
	if records != 1 {
		t.Errorf("%d bill records in the storage, want 1", records)
	}
}

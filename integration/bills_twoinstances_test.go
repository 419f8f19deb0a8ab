package integration

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	storage := filepath.Join(dir, "storage")
	addrs := startCaddyProcesses(t, dir, 2, func(_ int, addr string) string {
		return `{
	admin off
	persist_config off
	storage file_system ` + storage + `
}
http://` + addr + ` {
	wechatpay {
		mchid         ` + c.MchID + `
		serial_no     ` + c.SerialNo + `
		private_key   ` + key + `
		public_key_id ` + c.PublicKeyID + `
		public_key    ` + pub + `
	}
	reverse_proxy ` + strings.TrimPrefix(box.TS.URL, "http://") + `
}
`
	})
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

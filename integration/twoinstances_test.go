package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

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
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	storage := filepath.Join(dir, "storage")
	addrs := startCaddyProcesses(t, dir, 2, func(_ int, addr string) string {
		return `{
	admin off
	persist_config off
	storage file_system ` + storage + `
	wechatpay {
		merchant school {
			mchid            ` + c.MchID + `
			serial_no        ` + c.SerialNo + `
			private_key      ` + key + `
			apiv3_key        {file.` + apiv3 + `}
			certificates_url ` + cs.TS.URL + `
		}
	}
}
http://` + addr + ` {
	wechatpay {
		merchant school
	}
	reverse_proxy ` + strings.TrimPrefix(cs.TS.URL, "http://") + `
}
`
	})
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

package integration

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// TestIntegrationHardening holds the findings of a security review: each
// case once let a plaintext value or unsigned data through.
func TestIntegrationHardening(t *testing.T) {
	stub := testkit.NewStub(t)
	c := testkit.Creds()
	accessLog := filepath.Join(t.TempDir(), "access.log")
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: stub.URL, site: "log {\n\t\toutput file " + accessLog + "\n\t}"}.caddyfile(t))
	const name, id = "ZHANGSANPLAIN", "110101199003071234"
	query := "encrypted_name=" + name + "&encrypted_credential_id=" + id

	t.Run("another method on a cataloged path is encrypted too", func(t *testing.T) {
		stub.Reset()
		if resp, out := send(t, tester, "HEAD", "/v3/realname/verify?"+query, nil); resp.StatusCode != 405 || len(stub.Requests()) != 0 {
			t.Errorf("HEAD: %d %s, %d requests upstream; want 405 and none", resp.StatusCode, out, len(stub.Requests()))
		}
		for _, tc := range []struct{ method, uri, body string }{
			{"POST", "/v3/realname/verify?" + query, "{}"},
			{"PUT", "/v3/eduschoolpay/contracts/presign", testkit.PresignBody},
		} {
			stub.Reset()
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			send(t, tester, tc.method, tc.uri, body)
			reqs := stub.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%s %s: %d requests upstream", tc.method, tc.uri, len(reqs))
			}
			got := reqs[0]
			all := got.URI + string(got.Body)
			for _, secret := range []string{name, id, "6222021234567890123", "13800138000"} {
				if strings.Contains(all, secret) {
					t.Errorf("%s %s: plaintext %s reached WeChat Pay", tc.method, tc.uri, secret)
				}
			}
			if tc.method == "POST" {
				q, _ := url.ParseQuery(got.URI[strings.Index(got.URI, "?")+1:])
				if plain, err := utils.DecryptOAEP(q.Get("encrypted_name"), c.WechatPayKey); err != nil || plain != name {
					t.Errorf("%s: encrypted_name decrypts to %q (%v)", tc.method, plain, err)
				}
			}
		}
	})

	t.Run("another method without a body is forwarded as it is", func(t *testing.T) {
		stub.Reset()
		resp, out := send(t, tester, "GET", "/v3/eduschoolpay/contracts/presign", nil)
		if resp.StatusCode != 200 || len(stub.Requests()) != 1 || stub.Requests()[0].SignatureOK != nil {
			t.Errorf("GET without a body on a POST route: %d %s", resp.StatusCode, out)
		}
	})

	t.Run("names that differ only by case are refused", func(t *testing.T) {
		stub.Reset()
		for _, tc := range []struct{ method, uri, body string }{
			{"POST", "/v3/eduschoolpay/contracts/presign", strings.Replace(testkit.PresignBody, `"bank_card_no"`, `"Bank_Card_No"`, 1)},
			{"POST", "/v3/eduschoolpay/contracts/presign", strings.Replace(testkit.PresignBody, `"bank_card_no"`, `"ban\u212a_card_no"`, 1)},
			{"GET", "/v3/realname/verify?Encrypted_Name=" + name, ""},
			{"GET", "/v3/realname/verify?x=1;encrypted_name=" + name, ""},
		} {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			resp, out := send(t, tester, tc.method, tc.uri, body)
			if resp.StatusCode != 400 || !strings.Contains(string(out), "PARAM_ERROR") {
				t.Errorf("%s %.60s: %d %s", tc.method, tc.uri, resp.StatusCode, out)
			}
		}
		if n := len(stub.Requests()); n != 0 {
			t.Errorf("%d refused requests went upstream", n)
		}
	})

	t.Run("refused paths and bodies", func(t *testing.T) {
		stub.Reset()
		for _, tc := range []struct {
			method, uri string
			body        []byte
			header      []string
			status      int
		}{
			{"GET", "/v3/realname/verify?" + query, []byte("x"), []string{"Content-Encoding", "br"}, 415},
			{"GET", "/v3/realname/verify?" + query, bytes.Repeat([]byte("x"), 70<<10), nil, 413},
			{"GET", "/v3/realname/verify?" + query, []byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400},
			{"GET", "/v3/realname/verify/?" + query, nil, nil, 404},
			{"GET", "/v3/realname/verif%C5%BF?" + query, nil, nil, 404},
			{"GET", "/v3/realname/verify%3F" + query, nil, nil, 404},
			{"POST", "/v3/merchant/media/upload", []byte("--b\r\n\r\n--b--"), []string{"Content-Type", "multipart/form-data; boundary=b"}, 400},
		} {
			resp, out := send(t, tester, tc.method, tc.uri, tc.body, tc.header...)
			if resp.StatusCode != tc.status {
				t.Errorf("%s %.50s: %d %s, want %d", tc.method, tc.uri, resp.StatusCode, out, tc.status)
			}
		}
		if n := len(stub.Requests()); n != 0 {
			t.Errorf("%d refused requests went upstream", n)
		}
		// The access log (no line for requests with sensitive queries).
		time.Sleep(200 * time.Millisecond)
		data, _ := os.ReadFile(accessLog)
		if strings.Contains(string(data), name) || strings.Contains(string(data), id) {
			t.Errorf("the access log holds a plaintext query value")
		}
	})

	t.Run("only WeChat Pay's headers of a signed answer pass", func(t *testing.T) {
		stub.Reset()
		stub.SetResponse(testkit.StubResponse{ExtraHeader: http.Header{
			"Set-Cookie": {"session=evil"}, "Access-Control-Allow-Origin": {"*"}, "Location": {"http://evil.example"},
		}})
		resp, _ := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		for _, h := range []string{"Set-Cookie", "Access-Control-Allow-Origin", "Location"} {
			if resp.Header.Get(h) != "" {
				t.Errorf("unsigned header %s reached the client", h)
			}
		}
		if resp.Header.Get("Request-ID") == "" || resp.Header.Get("Wechatpay-Serial") == "" {
			t.Errorf("WeChat Pay's own headers were dropped: %v", resp.Header)
		}
	})
}

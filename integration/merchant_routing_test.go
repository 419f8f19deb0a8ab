package integration

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// routingExamples returns the Caddyfile examples of docs/merchants.md's
// "Routing requests to merchants", in order.
func routingExamples(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../docs/merchants.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "\n## Routing requests to merchants\n"
	s := string(raw)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatal("docs/merchants.md has no routing section")
	}
	s = s[i+len(heading):]
	if end := strings.Index(s, "\n## "); end >= 0 {
		s = s[:end]
	}
	var out []string
	for {
		start := strings.Index(s, "```caddyfile\n")
		if start < 0 {
			return out
		}
		s = s[start+len("```caddyfile\n"):]
		end := strings.Index(s, "```")
		out = append(out, s[:end])
		s = s[end+3:]
	}
}

// TestIntegrationMerchantRouting runs the routing examples of
// docs/merchants.md in a real Caddy, with two merchants: by header and by
// path, each request is signed by the merchant it names, the routing header
// does not reach WeChat Pay, and a request naming no merchant or an
// unknown one gets 400 MERCHANT_UNKNOWN with nothing sent; the snippet
// example's catch-all answers a path no merchant route matches with 400,
// never an empty 200.
func TestIntegrationMerchantRouting(t *testing.T) {
	examples := routingExamples(t)
	if len(examples) != 2 {
		t.Fatalf("%d Caddyfile examples in the routing section, want 2", len(examples))
	}
	stub := testkit.NewStub(t)
	school, canteen := testkit.Creds(), testkit.Rotated()
	dir := t.TempDir()
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&school.WechatPayKey.PublicKey))
	merchant := func(name string, c *testkit.Credentials) string {
		return `		merchant ` + name + ` {
			mchid          ` + c.MchID + `
			serial_no      ` + c.SerialNo + `
			private_key    ` + testkit.WriteFile(t, dir, name+".pem", testkit.PKCS8(c.MerchantKey)) + `
			public_key_id  ` + school.PublicKeyID + `
			public_key     ` + pub + `
		}
`
	}
	snippetPort := testkit.FreePort()
	site := func(example string) string {
		example = strings.ReplaceAll(example, "https://api.mch.weixin.qq.com", strings.TrimPrefix(stub.URL, "http://"))
		example = strings.Replace(example, ":9180 {", proxyURL+" {", 1)
		return strings.Replace(example, ":9181 {", "http://127.0.0.1:"+strconv.Itoa(snippetPort)+" {", 1)
	}
	tester := newTester(t)
	loadCaddyfile(t, tester, "{\n"+testGlobals("1ns")+"\twechatpay {\n"+merchant("school", school)+merchant("canteen", canteen)+"\t}\n}\n"+
		site(examples[0])+site(examples[1]))
	if t.Failed() {
		t.FailNow()
	}

	serialOf := func(r testkit.Received) string {
		m := testkit.AuthorizationRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			return ""
		}
		return m[5]
	}
	for _, tc := range []struct {
		name, uri, header, wantSerial string
	}{
		{"header school", "/v3/eduschoolpay/contracts/presign", "school", school.SerialNo},
		{"header canteen", "/v3/eduschoolpay/contracts/presign", "canteen", canteen.SerialNo},
		{"path canteen", "/canteen/v3/eduschoolpay/contracts/presign", "", canteen.SerialNo},
		{"path school", "/school/v3/eduschoolpay/contracts/presign", "", school.SerialNo},
	} {
		stub.Reset()
		var hdr []string
		if tc.header != "" {
			hdr = []string{"X-Wechatpay-Merchant", tc.header}
		}
		resp, body := send(t, tester, "POST", tc.uri, []byte(testkit.PresignBody), hdr...)
		got := stub.Requests()
		if resp.StatusCode != 200 || len(got) != 1 {
			t.Errorf("%s: %d %s, %d requests upstream", tc.name, resp.StatusCode, body, len(got))
			continue
		}
		if serialOf(got[0]) != tc.wantSerial || got[0].URI != "/v3/eduschoolpay/contracts/presign" {
			t.Errorf("%s: signed as %q for %s, want %s for /v3/eduschoolpay/contracts/presign", tc.name, serialOf(got[0]), got[0].URI, tc.wantSerial)
		}
		if v := got[0].Header.Get("X-Wechatpay-Merchant"); v != "" {
			t.Errorf("%s: the routing header reached WeChat Pay: %q", tc.name, v)
		}
	}

	for _, tc := range []struct{ name, uri, header, mention string }{
		{"no header", "/v3/eduschoolpay/contracts/presign", "", "X-Wechatpay-Merchant} resolved to nothing"},
		{"unknown header", "/v3/eduschoolpay/contracts/presign", "bakery", `resolved to \"bakery\"`},
		{"unknown path", "/bakery/v3/eduschoolpay/contracts/presign", "", `{http.vars.wechatpay_merchant} resolved to \"bakery\"`},
	} {
		stub.Reset()
		var hdr []string
		if tc.header != "" {
			hdr = []string{"X-Wechatpay-Merchant", tc.header}
		}
		resp, body := send(t, tester, "POST", tc.uri, []byte(testkit.PresignBody), hdr...)
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"MERCHANT_UNKNOWN"`) || !strings.Contains(string(body), tc.mention) {
			t.Errorf("%s: %d %s, want 400 MERCHANT_UNKNOWN mentioning %s", tc.name, resp.StatusCode, body, tc.mention)
		}
		if n := len(stub.Requests()); n != 0 {
			t.Errorf("%s: %d requests went upstream", tc.name, n)
		}
	}

	// A browser is refused before the merchant is looked up, whether the
	// request names a merchant or not.
	for _, merchant := range []string{"school", "bakery", ""} {
		stub.Reset()
		hdr := []string{"Origin", "https://attacker.example"}
		if merchant != "" {
			hdr = append(hdr, "X-Wechatpay-Merchant", merchant)
		}
		resp, body := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody), hdr...)
		if resp.StatusCode != 403 || !strings.Contains(string(body), `"code":"BROWSER_REQUEST_REFUSED"`) || len(stub.Requests()) != 0 {
			t.Errorf("a browser naming merchant %q: %d %s, %d requests upstream", merchant, resp.StatusCode, body, len(stub.Requests()))
		}
	}

	// The snippet example: a route per merchant and a catch-all.
	base := "http://127.0.0.1:" + strconv.Itoa(snippetPort)
	for _, tc := range []struct {
		path   string
		status int
	}{{"/canteen/v3/eduschoolpay/contracts/presign", 200}, {"/bakery/v3/eduschoolpay/contracts/presign", 400}, {"/", 400}} {
		stub.Reset()
		resp, err := http.Post(base+tc.path, "application/json", strings.NewReader(testkit.PresignBody))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("snippet example %s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.status == 400 && (!strings.Contains(string(body), "MERCHANT_UNKNOWN") || len(stub.Requests()) != 0) {
			t.Errorf("snippet example %s: %s, %d requests upstream", tc.path, body, len(stub.Requests()))
		}
		if tc.status == 200 && (len(stub.Requests()) != 1 || serialOf(stub.Requests()[0]) != canteen.SerialNo) {
			t.Errorf("snippet example %s: not signed by canteen", tc.path)
		}
	}
}

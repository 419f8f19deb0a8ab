package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// The integration tests run a real Caddy (caddytest, in this process) with the
// wechatpay handler in front of reverse_proxy, pointed at
// stubWechatPay. caddytest allows one Caddy per process, so they all live in
// this package and never run in parallel.

// testPorts are the ports of this test process's Caddy, picked free when the
// tests start, so that two test runs on one machine (or anything else on
// caddytest's usual ports) never meet the same Caddy. FreePort holds each for
// the process: four distinct ports, which no stand-in or outgoing connection
// takes while a configuration leaves one unused (a run failed once when two
// calls gave the same port).
var testPorts = struct{ admin, http, https, reload int }{testkit.FreePort(), testkit.FreePort(), testkit.FreePort(), testkit.FreePort()}

var (
	proxyURL = fmt.Sprintf("http://localhost:%d", testPorts.http)
	httpsURL = fmt.Sprintf("https://localhost:%d", testPorts.https)
)

// testGlobals returns the lines of the global options block every test
// config starts with: this process's ports, no autosave, no trust store;
// extra lines (storage, log, a wechatpay app) follow.
func testGlobals(grace string, extra ...string) string {
	lines := []string{
		"admin localhost:" + strconv.Itoa(testPorts.admin),
		"persist_config off",
		"http_port " + strconv.Itoa(testPorts.http),
		"https_port " + strconv.Itoa(testPorts.https),
		"grace_period " + grace,
		"skip_install_trust",
	}
	return "\t" + strings.Join(append(lines, extra...), "\n\t") + "\n"
}

// newTester returns a caddytest client for this process's Caddy.
func newTester(t *testing.T) *caddytest.Tester {
	return caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: testPorts.admin})
}

// proxySite describes the Caddyfile of a test proxy.
type proxySite struct {
	upstream   string // the stand-in's URL
	handler    string // more lines inside the wechatpay block
	proxyBlock string // the body of the reverse_proxy block
	site       string // more lines at the top of the site block
	address    string // site address; default proxyURL
	creds      *testkit.Credentials
	grace      string // grace_period; default 1ns
	bind       string // bind address; default 127.0.0.1
	maxBody    string // the max_body line; default "max_body 64KiB", "-" for none
	globals    string // more lines in the global options block (log, servers)
}

// caddyConfig returns a Caddyfile for the proxy; extra goes inside the
// wechatpay block.
func caddyConfig(t *testing.T, upstream, extra string) string {
	return proxySite{upstream: upstream, handler: extra}.caddyfile(t)
}

// caddyConfigWithProxy also takes the body of the reverse_proxy block.
func caddyConfigWithProxy(t *testing.T, upstream, extra, proxyBlock string) string {
	return proxySite{upstream: upstream, handler: extra, proxyBlock: proxyBlock}.caddyfile(t)
}

func (p proxySite) caddyfile(t *testing.T) string {
	c := p.creds
	if c == nil {
		c = testkit.Creds()
	}
	if p.grace == "" {
		p.grace = "1ns"
	}
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	if p.address == "" {
		p.address = proxyURL
	}
	if p.bind == "" {
		p.bind = "127.0.0.1"
	}
	switch p.maxBody {
	case "":
		p.maxBody = "max_body 64KiB"
	case "-":
		p.maxBody = ""
	}
	var globals []string
	if p.globals != "" {
		globals = append(globals, p.globals)
	}
	return "{\n" + testGlobals(p.grace, globals...) + `}
` + p.address + ` {
	bind ` + p.bind + `
	` + p.site + `
	wechatpay {
		mchid          ` + c.MchID + `
		serial_no      ` + c.SerialNo + `
		private_key    ` + key + `
		public_key_id  ` + c.PublicKeyID + `
		public_key     ` + pub + `
		` + p.maxBody + `
		` + p.handler + `
	}
	reverse_proxy ` + strings.TrimPrefix(p.upstream, "http://") + ` {
		` + p.proxyBlock + `
	}
}
`
}

func startProxy(t *testing.T, extra string) (*caddytest.Tester, *testkit.Stub) {
	t.Helper()
	stub := testkit.NewStub(t)
	tester := newTester(t)
	loadCaddyfile(t, tester, caddyConfig(t, stub.URL, extra))
	return tester, stub
}

func send(t *testing.T, tester *caddytest.Tester, method, uri string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, proxyURL+uri, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// A fresh connection each time: after a test loads a new config, a
	// kept-alive connection to the old server may be closing as it is reused.
	req.Close = true
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

// assertNoPlaintext fails if any sensitive plaintext of testkit.PresignPlain reached
// the stand-in, in the URI, a header or the body.
func assertNoPlaintext(t *testing.T, reqs []testkit.Received) {
	t.Helper()
	for _, r := range reqs {
		var all bytes.Buffer
		all.WriteString(r.URI)
		r.Header.Write(&all)
		all.Write(r.Body)
		for path, plain := range testkit.PresignPlain {
			if len(plain) >= 4 && bytes.Contains(all.Bytes(), []byte(plain)) {
				t.Errorf("plaintext of %s reached WeChat Pay", path)
			}
		}
	}
}

func TestIntegrationPresign(t *testing.T) {
	tester, stub := startProxy(t, "")
	c := testkit.Creds()
	resp, body := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody),
		"Content-Type", "application/json", "Authorization", "Bearer app-token", "Wechatpay-Serial", "CLIENT-CHOSEN")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "stub_presign_token") {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	reqs := stub.Requests()
	if len(reqs) != 1 {
		t.Fatalf("stand-in got %d requests", len(reqs))
	}
	got := reqs[0]
	if got.SignatureOK != nil {
		t.Errorf("signature refused by the SDK verifier: %v", got.SignatureOK)
	}
	if got.URI != "/v3/eduschoolpay/contracts/presign" || got.Method != "POST" {
		t.Errorf("forwarded as %s %s", got.Method, got.URI)
	}
	if s := got.Header.Get("Wechatpay-Serial"); s != c.PublicKeyID {
		t.Errorf("Wechatpay-Serial = %q", s)
	}
	if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "caddy-wechatpay/") {
		t.Errorf("User-Agent = %q", ua)
	}
	if got.Header.Get("Accept") != "application/json" || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Accept/Content-Type = %q/%q", got.Header.Get("Accept"), got.Header.Get("Content-Type"))
	}
	for path, plain := range testkit.PresignPlain {
		if got.Decrypted[path] != plain {
			t.Errorf("%s: SDK decrypts %q, want %q", path, got.Decrypted[path], plain)
		}
	}
	testkit.CheckEncrypted(t, []byte(testkit.PresignBody), got.Body, testkit.PresignFields, testkit.PresignPlain)
	assertNoPlaintext(t, reqs)
}

func TestIntegrationSignsOtherCalls(t *testing.T) {
	tester, stub := startProxy(t, "")
	for _, tc := range []struct{ method, uri, body string }{
		{"GET", "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000001", ""},
		{"GET", "/v3/bill/tradebill?bill_date=2019-06-11&bill_type=ALL&tar%20type=a%2Bb", ""},
		{"POST", "/v3/pay/transactions/native", `{"appid":"wxd678efh567hg6787","amount":{"total":100,"currency":"CNY"},"big":101164396123311331}`},
		{"DELETE", "/v3/marketing/favor/stocks/9856000", ""},
	} {
		stub.Reset()
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		resp, out := send(t, tester, tc.method, tc.uri, body)
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: status %d %s", tc.method, tc.uri, resp.StatusCode, out)
			continue
		}
		reqs := stub.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%s %s: %d requests upstream", tc.method, tc.uri, len(reqs))
		}
		if reqs[0].SignatureOK != nil {
			t.Errorf("%s %s: %v", tc.method, tc.uri, reqs[0].SignatureOK)
		}
		if reqs[0].URI != tc.uri || string(reqs[0].Body) != tc.body {
			t.Errorf("%s %s: forwarded %s with body %q", tc.method, tc.uri, reqs[0].URI, reqs[0].Body)
		}
	}
}

func TestIntegrationGzipRequestBody(t *testing.T) {
	tester, stub := startProxy(t, "")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(testkit.PresignBody))
	zw.Close()
	resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", buf.Bytes(), "Content-Encoding", "gzip")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, out)
	}
	reqs := stub.Requests()
	if len(reqs) != 1 || reqs[0].SignatureOK != nil || reqs[0].Header.Get("Content-Encoding") != "" {
		t.Fatalf("upstream got %+v", reqs)
	}
	testkit.CheckEncrypted(t, []byte(testkit.PresignBody), reqs[0].Body, testkit.PresignFields, testkit.PresignPlain)
	assertNoPlaintext(t, reqs)
}

// TestIntegrationRefusals: every refusal is a JSON error in WeChat Pay's
// shape naming the field (never its value), and nothing goes upstream.
func TestIntegrationRefusals(t *testing.T) {
	tester, stub := startProxy(t, "")
	big := `{"appid":"` + strings.Repeat("x", 70000) + `","identity":{"real_name":"张三丰"}}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"pad":"` + strings.Repeat("0", 200000) + `","identity":{"real_name":"张三丰"}}`))
	zw.Close()
	for _, tc := range []struct {
		name, uri, body string
		header          []string
		status          int
		code, mention   string
	}{
		{"number", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":13800138000}}`, nil, 400, "PARAM_ERROR", "identity.real_name"},
		{"duplicate key", "/v3/eduschoolpay/contracts/presign", `{"bank_card":{"phone":"x","phone":"13800138000"}}`, nil, 400, "PARAM_ERROR", "bank_card.phone"},
		{"invalid JSON", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":"张三丰"`, nil, 400, "PARAM_ERROR", "invalid JSON"},
		{"not an object", "/v3/eduschoolpay/contracts/presign", `["张三丰"]`, nil, 400, "PARAM_ERROR", "JSON object"},
		{"parent of wrong type", "/v3/eduschoolpay/contracts/presign", `{"identity":"张三丰 110101199003071234"}`, nil, 400, "PARAM_ERROR", "identity"},
		{"case-changed path still matched", "/v3/EduSchoolPay/contracts/Presign", `{"identity":{"real_name":13800138000}}`, nil, 400, "PARAM_ERROR", "identity.real_name"},
		{"over max_body", "/v3/eduschoolpay/contracts/presign", big, nil, 413, "REQUEST_BODY_TOO_LARGE", "max_body"},
		{"gzip bomb over max_body", "/v3/eduschoolpay/contracts/presign", gz.String(), []string{"Content-Encoding", "gzip"}, 413, "REQUEST_BODY_TOO_LARGE", "max_body"},
		{"unknown encoding", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":"张三丰"}}`, []string{"Content-Encoding", "br"}, 415, "UNSUPPORTED_CONTENT_ENCODING", "br"},
		{"bad gzip", "/v3/eduschoolpay/contracts/presign", `{"identity":{"real_name":"张三丰"}}`, []string{"Content-Encoding", "gzip"}, 400, "PARAM_ERROR", "gzip"},
		{"outside /v3/", "/v2/pay/unifiedorder", `{}`, nil, 404, "NOT_FOUND", "/v3/"},
		{"dot segments", "/v3/../v2/x", ``, nil, 404, "NOT_FOUND", "dot segment"},
		{"encoded dot segments", "/v3/%2e%2e/v2/x", ``, nil, 404, "NOT_FOUND", "dot segment"},
		{"trailing slash", "/v3/eduschoolpay/contracts/presign/", `{"identity":{"real_name":"张三丰"}}`, nil, 404, "NOT_FOUND", "empty path segment"},
		{"path parameter", "/v3/eduschoolpay/contracts/presign;x=1", `{"identity":{"real_name":"张三丰"}}`, nil, 404, "NOT_FOUND", "invalid character"},
		{"encoded space", "/v3/eduschoolpay/contracts/presign%20", `{"identity":{"real_name":"张三丰"}}`, nil, 404, "NOT_FOUND", "invalid character"},
		{"encoded slash", "/v3/eduschoolpay%2Fcontracts/presign", `{"identity":{"real_name":"张三丰"}}`, nil, 404, "NOT_FOUND", "encoded path separator"},
		{"doubled slash", "/v3//eduschoolpay/contracts/presign", `{"identity":{"real_name":"张三丰"}}`, nil, 404, "NOT_FOUND", "empty path segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			resp, out := send(t, tester, "POST", tc.uri, []byte(tc.body), tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal(out, &e); err != nil {
				t.Fatalf("answer is not JSON: %s", out)
			}
			if e.Code != tc.code || !strings.Contains(e.Message, tc.mention) {
				t.Errorf("got %s, want code %s mentioning %q", out, tc.code, tc.mention)
			}
			for _, secret := range []string{"张三丰", "13800138000", "110101199003071234"} {
				if strings.Contains(e.Message, secret) {
					t.Errorf("error message quotes the value: %s", out)
				}
			}
			if n := len(stub.Requests()); n != 0 {
				t.Errorf("%d requests went upstream", n)
			}
		})
	}
}

// TestIntegrationVerification: the client gets WeChat Pay's response only when
// its signature verifies; otherwise a 502 whose code says why, and never the
// unverified body.
func TestIntegrationVerification(t *testing.T) {
	tester, stub := startProxy(t, "skip_verify /v3/custom-download")
	c := testkit.Creds()
	const marker = "stub_presign_token"
	for _, tc := range []struct {
		name   string
		answer testkit.StubResponse
		uri    string
		status int
		code   string // expected error code, "" for a pass
	}{
		{"signed", testkit.StubResponse{}, "", 200, ""},
		{"gzip answer", testkit.StubResponse{Gzip: true}, "", 200, ""},
		{"signed 204", testkit.StubResponse{Status: 204, Body: ""}, "", 204, ""},
		{"signed error answer", testkit.StubResponse{Status: 400, Body: `{"code":"PARAM_ERROR","message":"stub says no"}`}, "", 400, ""},
		{"unsigned gateway page", testkit.StubResponse{Status: 502, Body: `<html>stub bad gateway</html>`, NoHeaders: true}, "", 502, codeUpstreamError},
		{"unsigned JSON error", testkit.StubResponse{Status: 400, Body: `{"code":"ORDERPAID","message":"stub forged"}`, NoHeaders: true}, "", 400, codeUpstreamError},
		{"wrong key", testkit.StubResponse{SignKey: c.PlatformKey}, "", 502, apiv3.CodeSignatureInvalid},
		{"tampered body", testkit.StubResponse{TamperBody: true}, "", 502, apiv3.CodeSignatureInvalid},
		{"stale timestamp", testkit.StubResponse{TimeShift: -6 * time.Minute}, "", 502, apiv3.CodeTimestampExpired},
		{"future timestamp", testkit.StubResponse{TimeShift: 6 * time.Minute}, "", 502, apiv3.CodeTimestampExpired},
		{"unknown serial", testkit.StubResponse{Serial: "PUB_KEY_ID_0000000000000000000000000000"}, "", 502, apiv3.CodeSerialUnknown},
		{"probe signature", testkit.StubResponse{Signature: "WECHATPAY/SIGNTEST/AAAA"}, "", 502, apiv3.CodeSignatureProbe},
		{"no signature headers", testkit.StubResponse{NoHeaders: true}, "", 502, apiv3.CodeSignatureMissing},
		{"signed error with bad signature", testkit.StubResponse{Status: 500, Body: `{"code":"SYSTEM_ERROR","message":"stub"}`, SignKey: c.PlatformKey}, "", 502, apiv3.CodeSignatureInvalid},
		{"skip_verify path", testkit.StubResponse{NoHeaders: true}, "/v3/custom-download/x", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			stub.SetResponse(tc.answer)
			uri := tc.uri
			method, body := "POST", []byte(testkit.PresignBody)
			if uri == "" {
				uri = "/v3/eduschoolpay/contracts/presign"
			} else {
				method, body = "GET", nil
			}
			resp, out := send(t, tester, method, uri, body, "Accept-Encoding", "gzip")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				out, _ = io.ReadAll(zr)
			}
			if tc.code == "" {
				want := tc.answer.Body
				if want == "" && tc.status == 200 {
					want = `{"presign_token":"stub_presign_token_0123456789"}`
				}
				if string(out) != want {
					t.Errorf("client got %q, want %q", out, want)
				}
				return
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal(out, &e); err != nil || e.Code != tc.code {
				t.Errorf("got %s, want code %s", out, tc.code)
			}
			if strings.Contains(string(out), marker) || strings.Contains(string(out), "EVIL") || strings.Contains(string(out), "SYSTEM_ERROR") || strings.Contains(string(out), "html") || strings.Contains(string(out), "ORDERPAID") {
				t.Errorf("unverified body reached the client: %s", out)
			}
			if !strings.Contains(e.Message, "08F1A2B3C4D5E6-TEST") {
				t.Errorf("message does not give the Request-ID: %s", e.Message)
			}
		})
	}
}

func TestIntegrationVerifyOff(t *testing.T) {
	tester, stub := startProxy(t, "verify_responses off")
	stub.SetResponse(testkit.StubResponse{NoHeaders: true})
	resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
	if resp.StatusCode != 200 || !strings.Contains(string(out), "stub_presign_token") {
		t.Fatalf("status %d %s", resp.StatusCode, out)
	}
}

// TestIntegrationBothModes: during a migration both the public key and a
// platform certificate are configured; wechatpay_serial picks the one that
// encrypts, and answers verify under either.
func TestIntegrationBothModes(t *testing.T) {
	c := testkit.Creds()
	cert := testkit.WriteFile(t, t.TempDir(), "wechatpay_"+c.PlatformSerial+".pem", testkit.CertPEM(c.PlatformCert))
	tester, stub := startProxy(t, "platform_certificate "+cert+"\n\t\twechatpay_serial "+c.PlatformSerial)
	for _, signer := range []struct {
		name   string
		answer testkit.StubResponse
	}{
		{"answer signed by the platform certificate", testkit.StubResponse{SignKey: c.PlatformKey, Serial: c.PlatformSerial}},
		{"answer signed by the public key", testkit.StubResponse{}},
	} {
		stub.Reset()
		stub.SetResponse(signer.answer)
		resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d %s", signer.name, resp.StatusCode, out)
		}
		got := stub.Requests()[0]
		if got.Header.Get("Wechatpay-Serial") != c.PlatformSerial {
			t.Errorf("Wechatpay-Serial = %q, want the certificate's", got.Header.Get("Wechatpay-Serial"))
		}
		for path, plain := range testkit.PresignPlain {
			if got.Decrypted[path] != plain {
				t.Errorf("%s does not decrypt with the platform key", path)
			}
		}
	}
}

// TestIntegrationGzipAnswerNotDecodedByTransport: with the transport's own
// gzip handling off, a compressed answer reaches the handler still encoded;
// it must be verified on its decoded bytes and passed on decoded.
func TestIntegrationGzipAnswerNotDecodedByTransport(t *testing.T) {
	stub := testkit.NewStub(t)
	tester := newTester(t)
	loadCaddyfile(t, tester, caddyConfigWithProxy(t, stub.URL, "", "transport http {\n\t\t\tcompression off\n\t\t}"))
	for _, tc := range []struct {
		name   string
		answer testkit.StubResponse
		status int
	}{
		{"signed", testkit.StubResponse{Gzip: true}, 200},
		{"tampered", testkit.StubResponse{Gzip: true, TamperBody: true}, 502},
	} {
		stub.Reset()
		stub.SetResponse(tc.answer)
		resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody), "Accept-Encoding", "gzip")
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d %s", tc.name, resp.StatusCode, out)
		}
		if enc := resp.Header.Get("Content-Encoding"); enc != "" {
			t.Errorf("%s: answer passed on with Content-Encoding %q", tc.name, enc)
		}
		if tc.status == 200 && string(out) != `{"presign_token":"stub_presign_token_0123456789"}` {
			t.Errorf("%s: client got %q", tc.name, out)
		}
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(out)) {
			t.Errorf("%s: Content-Length %q for %d bytes", tc.name, resp.Header.Get("Content-Length"), len(out))
		}
	}
}

package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// The request-origin checks of issue 23, through a real Caddy whose site
// is ":port" (any Host, as in the probe): every refusal sends
// nothing upstream, answers its code and writes one log line naming the
// header, never its value; the controls (an app by 127.0.0.1, localhost,
// an allow_hosts name, without Content-Type, Node's Sec-Fetch-Mode, over
// TLS by a name) are signed and forwarded.

// rawSend sends one request to this test process's plain-HTTP port with
// the given Host and headers, on a fresh connection.
func rawSend(t *testing.T, method, host, uri string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(testPorts.http)+uri, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header[header[i]] = []string{header[i+1]} // as written: lower-case too
	}
	req.Close = true
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestIntegrationTrustBoundary(t *testing.T) {
	stub := testkit.NewStub(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	loadCaddyfile(t, newTester(t), proxySite{upstream: stub.URL, address: ":" + strconv.Itoa(testPorts.http),
		handler: "request_payment\n\t\tallow_hosts wechatpay-proxy *.payments.svc.cluster.local",
		globals: "log {\n\t\toutput file " + logFile + "\n\t\tlevel INFO\n\t}"}.caddyfile(t))
	port := strconv.Itoa(testPorts.http)
	presign := []byte(testkit.PresignBody)

	for _, tc := range []struct {
		name, method, host, uri string
		body                    []byte
		header                  []string
		status                  int
		code, field, value      string
	}{
		{"Origin of another site", "POST", "127.0.0.1:" + port, "/v3/refund/domestic/refunds", []byte(`{"out_refund_no":"R1"}`),
			[]string{"Origin", "http://attacker.test", "Content-Type", "text/plain"}, 403, "BROWSER_REQUEST_REFUSED", "Origin", "attacker.test"},
		{"Origin null (a sandboxed page)", "POST", "127.0.0.1:" + port, "/v3/refund/domestic/refunds", []byte(`{"out_refund_no":"R1"}`),
			[]string{"Origin", "null"}, 403, "BROWSER_REQUEST_REFUSED", "Origin", ""},
		{"Sec-Fetch-Site on a GET", "GET", "127.0.0.1:" + port, "/v3/pay/transactions/id/4200000001?mchid=1900000001", nil,
			[]string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"}, 403, "BROWSER_REQUEST_REFUSED", "Sec-Fetch-Site", "cross-site"},
		{"the re-sign route from a page", "POST", "127.0.0.1:" + port, "/wechatpay/request-payment",
			[]byte(`{"type":"jsapi","appid":"wx8888888888888888","prepay_id":"wx201410272009395522657a690389285100"}`),
			[]string{"origin", "http://attacker.test"}, 403, "BROWSER_REQUEST_REFUSED", "Origin", "attacker.test"},
		{"a rebound name", "GET", "rebind.test:" + port, "/v3/pay/transactions/id/4200000001?mchid=1900000001", nil,
			nil, 403, "HOST_NOT_ALLOWED", "Host", ""},
		{"a rebound name on the re-sign route", "POST", "rebind.test:" + port, "/wechatpay/request-payment",
			[]byte(`{"type":"jsapi","appid":"wx8888888888888888","prepay_id":"wx201410272009395522657a690389285100"}`),
			nil, 403, "HOST_NOT_ALLOWED", "Host", ""},
		{"a name below a wildcard's label", "GET", "a.b.payments.svc.cluster.local", "/v3/certificates", nil,
			nil, 403, "HOST_NOT_ALLOWED", "Host", ""},
		{"text/plain", "POST", "127.0.0.1:" + port, "/v3/refund/domestic/refunds", []byte(`{"out_refund_no":"R1"}`),
			[]string{"Content-Type", "text/plain;charset=UTF-8"}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			before := logLines(t, logFile)
			status, out := rawSend(t, tc.method, tc.host, tc.uri, tc.body, tc.header...)
			var e struct{ Code, Message string }
			if status != tc.status || json.Unmarshal(out, &e) != nil || e.Code != tc.code {
				t.Fatalf("%d %s; want %d %s", status, out, tc.status, tc.code)
			}
			if n := len(stub.Requests()); n != 0 {
				t.Errorf("%d requests went upstream", n)
			}
			if tc.value != "" && strings.Contains(string(out), tc.value) {
				t.Errorf("the answer quotes the header's value: %s", out)
			}
			refused := awaitLogLines(t, logFile, before, "refused")
			if len(refused) != 1 || refused[0]["code"] != tc.code || refused[0]["field"] != tc.field {
				t.Fatalf("refusal log lines %v", refused)
			}
			if tc.value != "" {
				line, _ := json.Marshal(refused[0])
				if strings.Contains(string(line), tc.value) {
					t.Errorf("the log line quotes the header's value: %s", line)
				}
			}
		})
	}

	for _, tc := range []struct {
		name, host string
		header     []string
	}{
		{"an app by 127.0.0.1", "127.0.0.1:" + port, []string{"Content-Type", "application/json"}},
		{"an app by localhost", "localhost:" + port, []string{"Content-Type", "application/json"}},
		{"an app by [::1]", "[::1]:" + port, []string{"Content-Type", "application/json"}},
		{"an app without Content-Type", "127.0.0.1:" + port, nil},
		{"an app by an allow_hosts name", "WeChatPay-Proxy:" + port, []string{"Content-Type", "application/json"}},
		{"an app by a wildcard's name", "wechatpay.payments.svc.cluster.local", []string{"Content-Type", "application/json"}},
		{"Node's fetch: Sec-Fetch-Mode alone", "127.0.0.1:" + port, []string{"Content-Type", "application/json", "sec-fetch-mode", "cors", "Accept-Language", "*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			status, out := rawSend(t, "POST", tc.host, "/v3/eduschoolpay/contracts/presign", presign, tc.header...)
			if status != 200 || !strings.Contains(string(out), "stub_presign_token") {
				t.Fatalf("%d %s", status, out)
			}
			reqs := stub.Requests()
			if len(reqs) != 1 || reqs[0].SignatureOK != nil {
				t.Fatalf("upstream got %d requests (%v)", len(reqs), reqs)
			}
			assertNoPlaintext(t, reqs)
		})
	}
}

// TestIntegrationTrustBoundaryOverTLS: over TLS the certificate binds the
// name, so a Host that is not in allow_hosts passes; a browser's header is
// refused there too.
func TestIntegrationTrustBoundaryOverTLS(t *testing.T) {
	stub := testkit.NewStub(t)
	pki := newTestPKI(t)
	dir := t.TempDir()
	cert := testkit.WriteFile(t, dir, "server-cert.pem", pki.serverCert)
	key := testkit.WriteFile(t, dir, "server-key.pem", pki.serverKey)
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: stub.URL, address: "https://:" + strconv.Itoa(testPorts.https),
		site: "tls " + cert + " " + key}.caddyfile(t))
	post := func(host string, header ...string) (int, string) {
		c := pki.httpsClient()
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest("POST", "https://localhost/v3/eduschoolpay/contracts/presign", strings.NewReader(testkit.PresignBody))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if status, out := post("wechatpay.internal"); status != 200 || len(stub.Requests()) != 1 {
		t.Fatalf("over TLS by a name not in allow_hosts: %d %s", status, out)
	}
	stub.Reset()
	if status, out := post("wechatpay.internal", "Origin", "https://attacker.test"); status != 403 || !strings.Contains(out, "BROWSER_REQUEST_REFUSED") || len(stub.Requests()) != 0 {
		t.Errorf("a browser over TLS: %d %s", status, out)
	}
}

// logLines reads the JSON lines of a Caddy log file.
func logLines(t *testing.T, file string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range bytes.Split(raw, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// awaitLogLines returns the lines with msg written after the first len(before)
// lines, waiting a moment for the log to be written.
func awaitLogLines(t *testing.T, file string, before []map[string]any, msg string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var out []map[string]any
		all := logLines(t, file)
		for _, l := range all[min(len(before), len(all)):] {
			if l["msg"] == msg {
				out = append(out, l)
			}
		}
		if len(out) > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

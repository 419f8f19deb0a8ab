package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// The tests of this file hold the findings of an outside security probe
// (issue 19), each through a real Caddy.

// debugLogGlobals is the global log block that sends every log of Caddy, at
// DEBUG, to file.
func debugLogGlobals(file string) string {
	return "log {\n\t\toutput file " + file + "\n\t\tlevel DEBUG\n\t}"
}

// accessLogSite is the site line that writes the access log to file.
func accessLogSite(file string) string {
	return "log {\n\t\toutput file " + file + "\n\t}"
}

// waitForLogLine waits until file holds marker (a request logged after the
// ones under test, so that their lines are written too) and returns the
// file's content.
func waitForLogLine(t *testing.T, file, marker string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		if strings.Contains(string(data), marker) {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %s:\n%.2000s", file, marker, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationQueryLogSkip (finding 1): whatever the spelling of a
// sensitive query parameter's name and whatever else the query holds (a bad
// escape before or after it), no line Caddy writes, access log, the
// module's or reverse_proxy's at DEBUG, holds its value, and the value never
// reaches WeChat Pay in plaintext.
func TestIntegrationQueryLogSkip(t *testing.T) {
	stub := testkit.NewStub(t)
	dir := t.TempDir()
	logFile, accessFile := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: stub.URL, globals: debugLogGlobals(logFile), site: accessLogSite(accessFile)}.caddyfile(t))
	const qual = "/v3/gov/subsidy/qualification?"
	const fapiao = "/v3/new-tax-control-fapiao/fapiaomerchant/getspinviteurl?"
	// {v} is replaced by a secret of the case's own.
	cases := []struct {
		name, uri string
		status    int
	}{
		{"%5F after a bad escape", qual + "x=%zz&real%5Fname={v}&id%5Fcard%5Fnumber={v}&phone%5Fnumber={v}", 200},
		{"repeated after a bad escape", qual + "x=%&real%5Fname={v}&real%5Fname=B", 400},
		{"%5f", qual + "x=%zz&real%5fname={v}", 200},
		{"name in other case", qual + "x=%zz&Real%5fName={v}", 400},
		{"+ in the value and another name", qual + "x+y=%zz&phone%5Fnumber={v}+1", 200},
		{"; separator", qual + "x=%zz;real%5Fname={v}", 400},
		{"repeated", qual + "real%5Fname={v}&real%5Fname={v}&x=%zz", 400},
		{"bad escape after", qual + "real%5Fname={v}&x=%zz", 200},
		{"bad escape in the value", qual + "real%5Fname=%zz{v}", 400},
		{"bad escape in a name", qual + "real%5Fname={v}&%zz=1", 400},
		{"names differing by case", qual + "real%5Fname={v}&REAL%5FNAME={v}&x=%zz", 400},
		{"fold twin (long s)", fapiao + "x=%zz&operate_u%C5%BFer={v}", 400},
		{"bad escape, sensitive name as sent", qual + "x=%zz&real_name={v}", 200},
	}
	for i, tc := range cases {
		stub.Reset()
		secret := fmt.Sprintf("QSECRET%02dVALUE", i)
		resp, out := send(t, tester, "GET", strings.ReplaceAll(tc.uri, "{v}", secret), nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, out)
		}
		for _, r := range stub.Requests() {
			if strings.Contains(r.URI, secret) {
				t.Errorf("%s: plaintext reached WeChat Pay: %s", tc.name, r.URI)
			}
			if r.SignatureOK != nil {
				t.Errorf("%s: %v", tc.name, r.SignatureOK)
			}
		}
		if tc.status == 200 {
			if len(stub.Requests()) != 1 {
				t.Fatalf("%s: %d requests upstream", tc.name, len(stub.Requests()))
			}
			uri := stub.Requests()[0].URI
			// The bad escape (x=%zz) goes up as sent and is the one
			// parameter ParseQuery cannot read; every secret must come back
			// from the SDK's decryption, none lost, emptied or mangled.
			q, _ := url.ParseQuery(uri[strings.IndexByte(uri, '?')+1:])
			decrypted := 0
			for name, vals := range q {
				for _, v := range vals {
					plain, err := utils.DecryptOAEP(v, testkit.Creds().WechatPayKey)
					if err != nil {
						continue
					}
					decrypted++
					if !strings.Contains(plain, secret) {
						t.Errorf("%s: %s decrypts to %q", tc.name, name, plain)
					}
				}
			}
			if want := strings.Count(tc.uri, "{v}"); decrypted != want {
				t.Errorf("%s: %d parameters decrypt with the SDK, want %d: %s", tc.name, decrypted, want, uri)
			}
		}
	}
	send(t, tester, "GET", "/v3/pay/transactions/id/LOGMARKER?mchid=1900000001", nil)
	logs := waitForLogLine(t, accessFile, "LOGMARKER")
	all, _ := os.ReadFile(logFile)
	for _, logger := range []string{`"logger":"http.handlers.reverse_proxy"`, `"logger":"http.handlers.wechatpay"`} {
		if !strings.Contains(string(all), logger) {
			t.Errorf("the DEBUG log has no line of %s", logger)
		}
	}
	for _, line := range strings.Split(logs+string(all), "\n") {
		if i := strings.Index(line, "QSECRET"); i >= 0 {
			var n int
			fmt.Sscanf(line[i:], "QSECRET%02d", &n)
			t.Errorf("%s: a log line holds the value: %.400s", cases[n].name, line)
		}
	}
}

// callbackRequest builds the request of a callback to path, with more
// header lines.
func callbackRequest(t *testing.T, path string, cb testkit.Callback, body io.Reader, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", proxyURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range cb.Header {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Close = true
	return req
}

// roundTrip sends req with the tester's client, once: loadCaddyfile
// returns only when the new configuration serves, so a failed connection
// is a failure of the test, never retried away.
func roundTrip(t *testing.T, tester *caddytest.Tester, req *http.Request) *http.Response {
	t.Helper()
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// do sends req as roundTrip does and returns the response.
func do(t *testing.T, tester *caddytest.Tester, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp := roundTrip(t, tester, req)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

// TestIntegrationNotifyForwardsOnlyVerified (findings 2 and 3): what the app
// receives of a callback is what the handler verified and set, whatever the
// sender adds: no request trailer, a body of fixed length, the handler's
// own headers even when Connection names them, and of the other headers
// only the documented ones; the query string passes.
func TestIntegrationNotifyForwardsOnlyVerified(t *testing.T) {
	app := newStandInApp(t)
	tester, _ := startNotifyProxy(t, app)

	t.Run("request trailers are dropped", func(t *testing.T) {
		app.set(200)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
		// A reader of unknown length: the client sends the body chunked,
		// with its trailers after the last chunk.
		req := callbackRequest(t, "/wechatpay/notify", cb, io.MultiReader(bytes.NewReader(cb.Body)))
		req.Trailer = http.Header{eventTypeHeader: {"FORGED.EVENT"}, "X-Evil": {"trailer"}}
		resp, out := do(t, tester, req)
		if resp.StatusCode != 204 {
			t.Fatalf("WeChat Pay got %d %s", resp.StatusCode, out)
		}
		calls := app.calls()
		if len(calls) != 1 {
			t.Fatalf("app got %d calls", len(calls))
		}
		got := calls[0]
		if len(got.trailer) != 0 || got.chunked || got.length != int64(len(got.body)) {
			t.Errorf("app got trailers %v, chunked %v, length %d for %d bytes", got.trailer, got.chunked, got.length, len(got.body))
		}
		if v := got.header.Values(eventTypeHeader); len(v) != 1 || v[0] != "TRANSACTION.SUCCESS" {
			t.Errorf("app got %s %q", eventTypeHeader, v)
		}
	})

	t.Run("Connection cannot remove the handler's headers", func(t *testing.T) {
		app.set(200)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
		req := callbackRequest(t, "/wechatpay/notify", cb, bytes.NewReader(cb.Body),
			"Connection", notificationIDHeader+", "+eventTypeHeader+", X-Hop, close", "X-Hop", "hop")
		resp, out := do(t, tester, req)
		if resp.StatusCode != 204 || len(app.calls()) != 1 {
			t.Fatalf("WeChat Pay got %d %s; app got %d calls", resp.StatusCode, out, len(app.calls()))
		}
		got := app.calls()[0]
		if got.header.Get(notificationIDHeader) != cb.ID || got.header.Get(eventTypeHeader) != "TRANSACTION.SUCCESS" {
			t.Errorf("app headers %v", got.header)
		}
		if got.header.Get("X-Hop") != "" {
			t.Errorf("a field the sender named in Connection reached the app")
		}
	})

	t.Run("only documented headers pass; the query does", func(t *testing.T) {
		app.set(200)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
		req := callbackRequest(t, "/wechatpay/notify?merchant=acme", cb, bytes.NewReader(cb.Body),
			"User-Agent", "Mozilla/4.0", "X-Evil", "1", "X-Original-Url", "/admin", "X-Http-Method-Override", "DELETE",
			"Wechatpay-Forged", "1", "Cookie", "session=evil", "Accept", "*/*")
		resp, out := do(t, tester, req)
		if resp.StatusCode != 204 || len(app.calls()) != 1 {
			t.Fatalf("WeChat Pay got %d %s; app got %d calls", resp.StatusCode, out, len(app.calls()))
		}
		got := app.calls()[0]
		if got.uri != "/wechatpay/notify?merchant=acme" {
			t.Errorf("app got %s", got.uri)
		}
		for _, k := range []string{"X-Evil", "X-Original-Url", "X-Http-Method-Override", "Wechatpay-Forged", "Cookie", "Accept", "Connection"} {
			if v := got.header.Get(k); v != "" {
				t.Errorf("the sender's %s reached the app: %q", k, v)
			}
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "Request-Id": cb.Header.Get("Request-ID"),
			"User-Agent": "Mozilla/4.0", notificationIDHeader: cb.ID, eventTypeHeader: "TRANSACTION.SUCCESS",
			"X-App-Secret": "app-secret"} { // the operator's header_up
			if got.header.Get(k) != want {
				t.Errorf("app got %s %q, want %q", k, got.header.Get(k), want)
			}
		}
		if got.header.Get("X-Forwarded-For") == "" {
			t.Errorf("reverse_proxy's X-Forwarded-For is missing: %v", got.header)
		}
	})
}

// TestIntegrationAnswerTrailers (finding 4): trailers of a verified response
// never reach the client, neither as headers nor as trailers.
func TestIntegrationAnswerTrailers(t *testing.T) {
	tester, stub := startProxy(t, "")
	for _, tc := range []struct {
		name   string
		answer testkit.StubResponse
	}{
		{"announced", testkit.StubResponse{Trailer: http.Header{"Request-Id": {"FORGED-REQUEST-ID"}, "Wechatpay-Evil": {"1"}, "X-Evil": {"1"}}}},
		{"not announced", testkit.StubResponse{LateTrailer: http.Header{"Content-Type": {"text/html"}, "Wechatpay-Serial": {"FORGED"}, "X-Evil": {"1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			stub.SetResponse(tc.answer)
			resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
			if resp.StatusCode != 200 || string(out) != `{"presign_token":"stub_presign_token_0123456789"}` {
				t.Fatalf("status %d %s", resp.StatusCode, out)
			}
			if len(resp.Trailer) != 0 {
				t.Errorf("the client got trailers %v", resp.Trailer)
			}
			for k, want := range map[string]string{"Request-Id": "08F1A2B3C4D5E6-TEST", "Content-Type": "application/json",
				"Wechatpay-Serial": testkit.Creds().PublicKeyID, "Wechatpay-Evil": "", "X-Evil": "", "Trailer": ""} {
				if v := resp.Header.Values(k); want == "" && len(v) != 0 || want != "" && (len(v) != 1 || v[0] != want) {
					t.Errorf("the client got %s %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestIntegrationRequestTrailers: a request's trailers, which its signature
// could not cover, never reach WeChat Pay; the body goes with its length.
func TestIntegrationRequestTrailers(t *testing.T) {
	tester, stub := startProxy(t, "")
	req, _ := http.NewRequest("POST", proxyURL+"/v3/eduschoolpay/contracts/presign", io.MultiReader(strings.NewReader(testkit.PresignBody)))
	req.Trailer = http.Header{"Wechatpay-Serial": {"FORGED"}, "X-Evil": {"1"}}
	resp, out := do(t, tester, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, out)
	}
	reqs := stub.Requests()
	if len(reqs) != 1 || reqs[0].SignatureOK != nil {
		t.Fatalf("upstream got %+v", reqs)
	}
	if len(reqs[0].Trailer) != 0 || reqs[0].Chunked || reqs[0].Header.Get("Content-Length") != fmt.Sprint(len(reqs[0].Body)) {
		t.Errorf("WeChat Pay got trailers %v, chunked %v, Content-Length %q for %d bytes",
			reqs[0].Trailer, reqs[0].Chunked, reqs[0].Header.Get("Content-Length"), len(reqs[0].Body))
	}
}

// TestIntegrationUnsignedDownloadHeaders (finding 4): an unsigned download
// passes only the headers of a signed response and those a file needs, and
// is still streamed: the client reads its first bytes before the upstream
// has sent the rest, and a file larger than the verification buffer passes.
func TestIntegrationUnsignedDownloadHeaders(t *testing.T) {
	release := make(chan struct{})
	big := bytes.Repeat([]byte("0123456789abcdef"), (maxResponseBody+1<<20)/16)
	upstream := newDownloadUpstream(t, release, big)
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: upstream.URL, handler: "skip_verify /v3/custom-download /v3/billdownload/"}.caddyfile(t))
	for _, uri := range []string{"/v3/billdownload/file?token=abc", "/v3/custom-download/x"} {
		t.Run(uri, func(t *testing.T) {
			req, _ := http.NewRequest("GET", proxyURL+uri, nil)
			req.Close = true
			resp := roundTrip(t, tester, req)
			defer resp.Body.Close()
			first := make([]byte, len("part one\n"))
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "part one\n" {
				t.Fatalf("first part %q, %v", first, err)
			}
			release <- struct{}{} // the upstream sends the rest only now
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != "part two\n" {
				t.Fatalf("rest %q, %v", rest, err)
			}
			for _, k := range []string{"Set-Cookie", "Location", "Access-Control-Allow-Origin", "X-Evil", "Trailer"} {
				if v := resp.Header.Get(k); v != "" {
					t.Errorf("unsigned header %s reached the client: %q", k, v)
				}
			}
			if len(resp.Trailer) != 0 {
				t.Errorf("the client got trailers %v", resp.Trailer)
			}
			for k, want := range map[string]string{"Content-Type": "text/csv", "Content-Disposition": `attachment; filename="bill.csv"`,
				"Request-Id": "08F1DOWNLOAD", "Wechatpay-Anything": "kept"} {
				if v := resp.Header.Values(k); len(v) != 1 || v[0] != want {
					t.Errorf("the client got %s %q, want %q", k, v, want)
				}
			}
		})
	}
	t.Run("larger than the verification buffer", func(t *testing.T) {
		resp, out := send(t, tester, "GET", "/v3/billdownload/file?token=big", nil)
		if resp.StatusCode != 200 || !bytes.Equal(out, big) || resp.Header.Get("Content-Length") != fmt.Sprint(len(big)) {
			t.Errorf("status %d, %d bytes of %d, Content-Length %q", resp.StatusCode, len(out), len(big), resp.Header.Get("Content-Length"))
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("Set-Cookie reached the client")
		}
	})
}

// newDownloadUpstream answers downloads unsigned, with headers a forger
// would add and trailers: token=big gets big with its Content-Length; any
// other download gets "part one", then "part two" once release is sent to.
func newDownloadUpstream(t *testing.T, release chan struct{}, big []byte) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Set-Cookie", "session=evil")
		h.Set("Location", "http://evil.example")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Evil", "1")
		h.Set("Content-Type", "text/csv")
		h.Set("Content-Disposition", `attachment; filename="bill.csv"`)
		h.Set("Request-ID", "08F1DOWNLOAD")
		h.Set("Wechatpay-Anything", "kept")
		if r.URL.Query().Get("token") == "big" {
			h.Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
			return
		}
		h.Set("Trailer", "X-Evil-Trailer")
		w.Write([]byte("part one\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-time.After(20 * time.Second):
			t.Errorf("the client never got the first part: the download was buffered")
		}
		w.Write([]byte("part two\n"))
		h.Set("X-Evil-Trailer", "1")
		h.Set(http.TrailerPrefix+"Set-Cookie", "late=evil")
	}))
	t.Cleanup(s.Close)
	return s
}

// TestIntegrationBodyOnQueryOnlyEndpoint (finding 5): a body that is not a
// JSON object is refused on an endpoint with sensitive fields, a form body
// to an endpoint whose sensitive fields are in the query included; a JSON
// object sent with a form Content-Type still passes as JSON, and bodies to
// endpoints without sensitive fields are forwarded as before.
func TestIntegrationBodyOnQueryOnlyEndpoint(t *testing.T) {
	tester, stub := startProxy(t, "")
	const form = "application/x-www-form-urlencoded"
	const secretName, secretID = "FORMNAMESECRET", "110101199003079999"
	formBody := "real_name=" + secretName + "&id_card_number=" + secretID
	for _, tc := range []struct {
		name, method, uri, contentType, body string
		status                               int
		mention                              string // in the refusal
	}{
		{"form body, query-only endpoint", "GET", "/v3/gov/subsidy/qualification", form, formBody, 400, "JSON object"},
		{"form body with a query", "GET", "/v3/gov/subsidy/qualification?real_name=x", form, formBody, 400, "JSON object"},
		{"text body, query-only endpoint", "POST", "/v3/realname/verify", "text/plain", "encrypted_name=" + secretName, 415, "application/json"},
		{"JSON array, query-only endpoint", "GET", "/v3/gov/subsidy/qualification", "application/json", `["` + secretName + `"]`, 400, "JSON object"},
		{"form body, body endpoint", "POST", "/v3/gov/subsidy/qualifications/query", form, formBody, 400, "JSON object"},
		{"JSON object with a form type, query-only endpoint", "GET", "/v3/gov/subsidy/qualification", form, `{"page":1}`, 200, ""},
		{"JSON object with a form type, body endpoint", "POST", "/v3/eduschoolpay/contracts/presign", form, testkit.PresignBody, 200, ""},
		{"form body, no sensitive fields", "POST", "/v3/refund/domestic/refunds", form, "out_trade_no=1&amount=1", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			resp, out := send(t, tester, tc.method, tc.uri, []byte(tc.body), "Content-Type", tc.contentType)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			reqs := stub.Requests()
			if tc.status != 200 {
				var e struct{ Code, Message string }
				wantCode := codeParamError
				if tc.status == 415 {
					wantCode = "UNSUPPORTED_MEDIA_TYPE" // text/plain, which a web page can send unasked
				}
				if err := json.Unmarshal(out, &e); err != nil || e.Code != wantCode || !strings.Contains(e.Message, tc.mention) {
					t.Errorf("got %s, want %s mentioning %q", out, wantCode, tc.mention)
				}
				if strings.Contains(string(out), secretName) || strings.Contains(string(out), secretID) {
					t.Errorf("the refusal quotes a value: %s", out)
				}
				if len(reqs) != 0 {
					t.Errorf("%d requests went upstream", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].SignatureOK != nil || reqs[0].Header.Get("Content-Type") != "application/json" {
				t.Fatalf("upstream got %+v", reqs)
			}
			assertNoPlaintext(t, reqs)
			if tc.body == testkit.PresignBody {
				testkit.CheckEncrypted(t, []byte(tc.body), reqs[0].Body, testkit.PresignFields, testkit.PresignPlain)
			}
			if tc.uri == "/v3/refund/domestic/refunds" && string(reqs[0].Body) != tc.body {
				t.Errorf("body without sensitive fields changed: %q", reqs[0].Body)
			}
		})
	}
}

// TestIntegrationUnverifiedFailureLogs: when WeChat Pay cannot be reached
// on a path whose responses pass unverified (verify_responses off, a
// download, skip_verify), the client gets WeChat Pay's error shape as on
// other paths, and Caddy's error log, which records the URI as the client
// sent it, gets no line holding a sensitive query value.
func TestIntegrationUnverifiedFailureLogs(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "caddy.log")
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: "127.0.0.1:" + fmt.Sprint(testkit.FreePort()), globals: debugLogGlobals(logFile),
		handler: "verify_responses off"}.caddyfile(t))
	const secret = "UNREACHSECRET"
	resp, out := send(t, tester, "GET", "/v3/gov/subsidy/qualification?real_name="+secret, nil)
	var e struct{ Code, Message string }
	if resp.StatusCode != 502 || json.Unmarshal(out, &e) != nil || e.Code != codeUpstreamUnreachable {
		t.Errorf("status %d %s, want 502 %s", resp.StatusCode, out, codeUpstreamUnreachable)
	}
	send(t, tester, "GET", "/v3/pay/transactions/id/LOGMARKER?mchid=1900000001", nil)
	logs := waitForLogLine(t, logFile, "LOGMARKER")
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, secret) {
			t.Errorf("a log line holds the value: %.400s", line)
		}
	}
}

// floodUpstream answers every request with a body far over the
// verification buffer and reports on done whether it could send all of it
// (false: the proxy hung up). kind "identity" sends 64 MiB as they are;
// "gzip" 64 MiB of gzip that decodes to about four times as much; "bomb"
// 1 MiB of gzip that decodes to 1 GiB of zeros.
func floodUpstream(t *testing.T, kind string, done chan<- bool) *httptest.Server {
	member := func(plain []byte) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(plain)
		zw.Close()
		return b.Bytes()
	}
	var chunk []byte
	total := 64 << 20
	switch kind {
	case "identity":
		chunk = bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	case "gzip":
		rnd := mathrand.New(mathrand.NewPCG(1, 2))
		plain := make([]byte, 256<<10)
		for i := range plain {
			plain[i] = "ACGT"[rnd.IntN(4)]
		}
		chunk = member(plain)
	case "bomb":
		chunk = member(make([]byte, 16<<20))
		total = len(chunk) * 64
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if kind != "identity" {
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(total/len(chunk)*len(chunk)))
		complete := true
		for sent := 0; sent+len(chunk) <= total; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				complete = false
				break
			}
		}
		select {
		case done <- complete:
		default: // a second delivery is not waited for
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// TestIntegrationAnswerFlood (probe 6): a response over the verification
// buffer, plain or compressed, is refused with RESPONSE_TOO_LARGE, and the
// proxy stops reading it as soon as it is over: what a compressed answer
// costs is bounded by the buffer, not by what it decodes to, whether
// Caddy's transport decodes it or the module does.
func TestIntegrationAnswerFlood(t *testing.T) {
	const moduleDecodes = "transport http {\n\t\t\tcompression off\n\t\t}"
	for _, tc := range []struct {
		name, kind, proxyBlock string
		hangUp                 bool // the proxy must stop reading before the end
	}{
		{"plain", "identity", "", true},
		{"gzip decoded by the transport", "gzip", "", true},
		{"bomb decoded by the transport", "bomb", "", false}, // all of it fits in the kernel's buffers
		{"bomb decoded by the module", "bomb", moduleDecodes, false},
		{"gzip decoded by the module", "gzip", moduleDecodes, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan bool, 1)
			upstream := floodUpstream(t, tc.kind, done)
			tester := newTester(t)
			loadCaddyfile(t, tester, proxySite{upstream: upstream.URL, proxyBlock: tc.proxyBlock}.caddyfile(t))
			// Caddy runs in this process: what the request allocated, the
			// decoding included, shows in the heap's running total.
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
			runtime.ReadMemStats(&after)
			var e struct{ Code, Message string }
			if resp.StatusCode != 502 || json.Unmarshal(out, &e) != nil || e.Code != codeResponseTooLarge {
				t.Errorf("status %d %s, want 502 %s", resp.StatusCode, out, codeResponseTooLarge)
			}
			// The bomb decodes to 1 GiB; the proxy may allocate a few (32-37 MiB seen)
			// times its buffer, never what the answer decodes to.
			if allocated := after.TotalAlloc - before.TotalAlloc; tc.kind == "bomb" && allocated > 6*maxResponseBody {
				t.Errorf("the request allocated %d MiB, over 6 buffers of %d MiB", allocated>>20, maxResponseBody>>20)
			}
			select {
			case complete := <-done:
				if tc.hangUp && complete {
					t.Errorf("the proxy read the whole answer")
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the upstream is still sending")
			}
		})
	}
}

// apiAndNotifySite is a Caddyfile with a wechatpay_notify route in front of
// app and the wechatpay proxy in front of upstream for every other path;
// globals go into the global options block.
func apiAndNotifySite(t *testing.T, upstream, app, globals string) string {
	c := testkit.Creds()
	dir := t.TempDir()
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.APIv3Key)
	return "{\n" + testGlobals("1ns", "storage file_system "+filepath.Join(dir, "storage"), globals) + `}
` + proxyURL + ` {
	bind 127.0.0.1
	handle /wechatpay/notify {
		wechatpay_notify {
			apiv3_key     {file.` + apiv3 + `}
			public_key_id ` + c.PublicKeyID + `
			public_key    ` + pub + `
		}
		reverse_proxy ` + strings.TrimPrefix(app, "http://") + `
	}
	handle {
		wechatpay {
			mchid         ` + c.MchID + `
			serial_no     ` + c.SerialNo + `
			private_key   ` + key + `
			public_key_id ` + c.PublicKeyID + `
			public_key    ` + pub + `
		}
		reverse_proxy ` + strings.TrimPrefix(upstream, "http://") + `
	}
}
`
}

// trickle sends head, then body ten bytes every 100 ms, on a connection of
// its own, and reports whether all of it was sent before the server
// answered or hung up, and the status it answered (0: none).
func trickle(t *testing.T, head string, body []byte) (sentAll bool, status int) {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1"+strings.TrimPrefix(proxyURL, "http://localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	sent := make(chan bool, 1)
	go func() {
		data := append([]byte(head), body...)
		for len(data) > 0 {
			n := min(10, len(data))
			select {
			case <-stop:
				sent <- false
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write(data[:n]); err != nil {
				sent <- false
				return
			}
			data = data[n:]
		}
		sent <- true
	}()
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	close(stop)
	return <-sent, status
}

// TestIntegrationSlowBodies (probe 6): with the server timeouts docs/callbacks.md
// recommends (here one second instead of thirty), a body or header sent a
// few bytes at a time, never idle long enough for Caddy's default idle
// timeout, is cut off, and nothing of it reaches WeChat Pay or the app; an
// upstream or an app that answers after that deadline is unaffected.
func TestIntegrationSlowBodies(t *testing.T) {
	stub := testkit.NewStub(t)
	app := newStandInApp(t)
	tester := newTester(t)
	loadCaddyfile(t, tester, apiAndNotifySite(t, stub.URL, app.URL,
		"servers {\n\t\ttimeouts {\n\t\t\tread_header 1s\n\t\t\tread_body 1s\n\t\t}\n\t}"))
	host := strings.TrimPrefix(proxyURL, "http://")
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	var head strings.Builder
	head.WriteString("POST /wechatpay/notify HTTP/1.1\r\nHost: " + host + "\r\n")
	cb.Header.Write(&head)
	head.WriteString("Content-Length: " + fmt.Sprint(len(cb.Body)) + "\r\n\r\n")
	for _, tc := range []struct {
		name, head string
		body       []byte
	}{
		{"callback body", head.String(), cb.Body},
		{"request body", "POST /v3/eduschoolpay/contracts/presign HTTP/1.1\r\nHost: " + host +
			"\r\nContent-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(testkit.PresignBody)) + "\r\n\r\n", []byte(testkit.PresignBody)},
		{"request header", "GET /v3/pay/transactions/id/1?mchid=1900000001 HTTP/1.1\r\nHost: " + host +
			"\r\nUser-Agent: " + strings.Repeat("slow", 200) + "\r\n\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.Reset()
			app.set(200)
			sentAll, status := trickle(t, tc.head, tc.body)
			if sentAll {
				t.Errorf("the whole request was taken, a few bytes at a time (status %d)", status)
			}
			if status != 0 && status < 400 {
				t.Errorf("answered %d", status)
			}
			if len(stub.Requests()) != 0 || len(app.calls()) != 0 {
				t.Errorf("%d requests upstream, %d to the app", len(stub.Requests()), len(app.calls()))
			}
		})
	}
	t.Run("a slow upstream and a slow app are unaffected", func(t *testing.T) {
		stub.Reset()
		stub.SetResponse(testkit.StubResponse{Delay: 1500 * time.Millisecond})
		resp, out := send(t, tester, "POST", "/v3/eduschoolpay/contracts/presign", []byte(testkit.PresignBody))
		if resp.StatusCode != 200 {
			t.Errorf("slow upstream: %d %s", resp.StatusCode, out)
		}
		slowApp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			time.Sleep(1500 * time.Millisecond)
			w.WriteHeader(200)
		}))
		defer slowApp.Close()
		loadCaddyfile(t, tester, apiAndNotifySite(t, stub.URL, slowApp.URL,
			"servers {\n\t\ttimeouts {\n\t\t\tread_header 1s\n\t\t\tread_body 1s\n\t\t}\n\t}"))
		resp, out = sendCallback(t, tester, "/wechatpay/notify", testkit.BuildCallback(t, testkit.CallbackSpec{}))
		if resp.StatusCode != 204 {
			t.Errorf("slow app: %d %s", resp.StatusCode, out)
		}
	})
}

// h2cClient speaks HTTP/2 without TLS (prior knowledge) to this process's
// Caddy.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	addr := "127.0.0.1" + strings.TrimPrefix(proxyURL, "http://localhost")
	return &http.Client{Transport: &http.Transport{
		Protocols: &p,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, network, addr)
		},
	}}
}

// TestIntegrationH2C (probe 6): over HTTP/2 without TLS (protocols h1 h2c),
// a request body of unknown length is encrypted and signed, a sensitive
// query is encrypted, request trailers of a callback do not reach the app,
// and response trailers do not reach the client. (A Connection header is not
// valid in HTTP/2: Go's server refuses such a request.)
func TestIntegrationH2C(t *testing.T) {
	stub := testkit.NewStub(t)
	app := newStandInApp(t)
	tester := newTester(t)
	loadCaddyfile(t, tester, apiAndNotifySite(t, stub.URL, app.URL, "servers {\n\t\tprotocols h1 h2c\n\t}"))
	client := h2cClient()
	defer client.CloseIdleConnections()
	c := testkit.Creds()
	roundTrip := func(t *testing.T, req *http.Request) (*http.Response, []byte) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("answered over %s", resp.Proto)
		}
		return resp, out
	}

	t.Run("body of unknown length", func(t *testing.T) {
		stub.Reset()
		stub.SetResponse(testkit.StubResponse{Trailer: http.Header{"Request-Id": {"FORGED-REQUEST-ID"}, "X-Evil": {"1"}}})
		req, _ := http.NewRequest("POST", proxyURL+"/v3/eduschoolpay/contracts/presign", io.MultiReader(strings.NewReader(testkit.PresignBody)))
		req.Trailer = http.Header{"Wechatpay-Serial": {"FORGED"}}
		resp, out := roundTrip(t, req)
		if resp.StatusCode != 200 || string(out) != `{"presign_token":"stub_presign_token_0123456789"}` {
			t.Fatalf("status %d %s", resp.StatusCode, out)
		}
		reqs := stub.Requests()
		if len(reqs) != 1 || reqs[0].SignatureOK != nil {
			t.Fatalf("upstream got %+v", reqs)
		}
		testkit.CheckEncrypted(t, []byte(testkit.PresignBody), reqs[0].Body, testkit.PresignFields, testkit.PresignPlain)
		if len(reqs[0].Trailer) != 0 || reqs[0].Header.Get("Wechatpay-Serial") != c.PublicKeyID {
			t.Errorf("request trailers reached WeChat Pay: %v", reqs[0].Trailer)
		}
		if len(resp.Trailer) != 0 || len(resp.Header.Values("Request-Id")) != 1 || resp.Header.Get("X-Evil") != "" {
			t.Errorf("answer trailers reached the client: header %v, trailer %v", resp.Header, resp.Trailer)
		}
	})

	t.Run("sensitive query", func(t *testing.T) {
		stub.Reset()
		req, _ := http.NewRequest("GET", proxyURL+"/v3/realname/verify?encrypted_name=H2CSECRETNAME&x=1", nil)
		resp, out := roundTrip(t, req)
		if resp.StatusCode != 200 || len(stub.Requests()) != 1 {
			t.Fatalf("status %d %s", resp.StatusCode, out)
		}
		uri := stub.Requests()[0].URI
		q, _ := url.ParseQuery(uri[strings.IndexByte(uri, '?')+1:])
		if plain, err := utils.DecryptOAEP(q.Get("encrypted_name"), c.WechatPayKey); err != nil || plain != "H2CSECRETNAME" {
			t.Errorf("encrypted_name decrypts to %q (%v)", plain, err)
		}
	})

	t.Run("callback with trailers", func(t *testing.T) {
		app.set(200)
		cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
		req := callbackRequest(t, "/wechatpay/notify", cb, io.MultiReader(bytes.NewReader(cb.Body)))
		req.Close = false
		req.Trailer = http.Header{eventTypeHeader: {"FORGED.EVENT"}, "X-Evil": {"trailer"}}
		resp, out := roundTrip(t, req)
		if resp.StatusCode != 204 || len(app.calls()) != 1 {
			t.Fatalf("WeChat Pay got %d %s; app got %d calls", resp.StatusCode, out, len(app.calls()))
		}
		got := app.calls()[0]
		if len(got.trailer) != 0 || got.length != int64(len(got.body)) || got.header.Get(eventTypeHeader) != "TRANSACTION.SUCCESS" {
			t.Errorf("app got trailers %v, length %d for %d bytes, %s %q", got.trailer, got.length, len(got.body),
				eventTypeHeader, got.header.Values(eventTypeHeader))
		}
	})
}

// TestIntegrationReplayedResponseRefused: a signed response recorded and
// played again (the same serial, timestamp, nonce and body) while its
// timestamp is still accepted reaches the app as a 502 SIGNATURE_REPLAYED,
// never as a second success; a fresh signature passes.
func TestIntegrationReplayedResponseRefused(t *testing.T) {
	tester, stub := startProxy(t, "")
	recorded := testkit.StubResponse{Body: `{"trade_state":"SUCCESS"}`, Nonce: testkit.RandomAlnum(32), Timestamp: time.Now().Unix()}
	stub.SetResponse(recorded)
	resp, out := send(t, tester, "GET", "/v3/pay/transactions/id/4200000001?mchid=1900000001", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("first: %d %s", resp.StatusCode, out)
	}
	resp, out = send(t, tester, "GET", "/v3/pay/transactions/id/4200000002?mchid=1900000001", nil)
	if resp.StatusCode != 502 || !strings.Contains(string(out), `"code":"SIGNATURE_REPLAYED"`) || strings.Contains(string(out), "SUCCESS") {
		t.Errorf("replayed: %d %s", resp.StatusCode, out)
	}
	stub.SetResponse(testkit.StubResponse{Body: `{"trade_state":"SUCCESS"}`})
	if resp, out = send(t, tester, "GET", "/v3/pay/transactions/id/4200000003?mchid=1900000001", nil); resp.StatusCode != 200 {
		t.Errorf("a fresh signature: %d %s", resp.StatusCode, out)
	}
}

// TestIntegrationReplayedCallbackRefused: a callback played again with the
// signature WeChat Pay sent is refused (401 SIGNATURE_REPLAYED) before its
// id is looked up, and the app sees it once; WeChat Pay's own resend,
// signed anew, is answered as a duplicate.
func TestIntegrationReplayedCallbackRefused(t *testing.T) {
	app := newStandInApp(t)
	tester, _ := startNotifyProxy(t, app)
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	if resp, out := sendCallback(t, tester, "/wechatpay/notify", cb); resp.StatusCode != 204 {
		t.Fatalf("first: %d %s", resp.StatusCode, out)
	}
	resp, out := sendCallback(t, tester, "/wechatpay/notify", cb)
	if resp.StatusCode != 401 || !strings.Contains(string(out), "SIGNATURE_REPLAYED") {
		t.Errorf("replayed: %d %s", resp.StatusCode, out)
	}
	resend := testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID})
	if resp, out := sendCallback(t, tester, "/wechatpay/notify", resend); resp.StatusCode != 204 {
		t.Errorf("WeChat Pay's resend: %d %s", resp.StatusCode, out)
	}
	if n := len(app.calls()); n != 1 {
		t.Errorf("the app got %d calls, want 1", n)
	}
}

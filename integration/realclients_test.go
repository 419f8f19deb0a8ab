package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// Real clients, as apps call the proxy: curl (its default Content-Type for
// -d is the form type) and Node's built-in fetch (which sends
// sec-fetch-mode: cors on every request, and must pass), over loopback TCP
// and over a Unix socket. Each skips, saying so, when its program is not
// installed.

// clientPath returns the program's path, or skips the test.
func clientPath(t *testing.T, name, debian string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: apt-get install %s): this real-client test is skipped", name, debian)
	}
	return p
}

// runClient runs a client program for at most 20 s and returns what it
// printed.
func runClient(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return string(out)
}

// curlOutput splits what curl -w "\n%{http_code}" printed into the status
// and the answer.
func curlOutput(out string) (int, string) {
	i := strings.LastIndexByte(out, '\n')
	status, _ := strconv.Atoi(strings.TrimSpace(out[i+1:]))
	return status, out[:max(i, 0)]
}

// nodeFetch is a Node script: fetch(URL) POSTing BODY as JSON, printing the
// status and the answer.
const nodeFetch = `fetch(process.env.URL, {method: "POST", headers: {"content-type": "application/json"}, body: process.env.BODY})
  .then(async r => console.log(r.status, await r.text()))
  .catch(e => { console.error(e); process.exit(1) })`

// nodeUnixSocket is a Node script: http.request over the Unix socket SOCK,
// POSTing BODY as JSON, printing the status and the answer.
const nodeUnixSocket = `const req = require("http").request({socketPath: process.env.SOCK, path: process.env.URI, method: "POST",
  headers: {"content-type": "application/json"}}, res => {
  let b = ""; res.on("data", d => b += d); res.on("end", () => console.log(res.statusCode, b))
})
req.on("error", e => { console.error(e); process.exit(1) })
req.end(process.env.BODY)`

func TestIntegrationRealClientsTCP(t *testing.T) {
	stub := testkit.NewStub(t)
	loadCaddyfile(t, newTester(t), proxySite{upstream: stub.URL, address: ":" + strconv.Itoa(testPorts.http)}.caddyfile(t))
	url := "http://127.0.0.1:" + strconv.Itoa(testPorts.http) + "/v3/eduschoolpay/contracts/presign"
	check := func(t *testing.T, out string) {
		t.Helper()
		if !strings.HasPrefix(out, "200 ") || !strings.Contains(out, "stub_presign_token") {
			t.Fatalf("answered %s", out)
		}
		reqs := stub.Requests()
		if len(reqs) != 1 || reqs[0].SignatureOK != nil {
			t.Fatalf("upstream got %d requests", len(reqs))
		}
		testkit.CheckEncrypted(t, []byte(testkit.PresignBody), reqs[0].Body, testkit.PresignFields, testkit.PresignPlain)
	}
	t.Run("curl", func(t *testing.T) {
		curl := clientPath(t, "curl", "curl")
		stub.Reset()
		status, body := curlOutput(runClient(t, curl, "-sS", "-w", "\n%{http_code}", "-d", testkit.PresignBody, url))
		check(t, strconv.Itoa(status)+" "+body)
	})
	t.Run("Node fetch", func(t *testing.T) {
		node := clientPath(t, "node", "nodejs")
		stub.Reset()
		cmd := []string{"-e", nodeFetch}
		t.Setenv("URL", url)
		t.Setenv("BODY", testkit.PresignBody)
		check(t, runClient(t, node, cmd...))
		// The header that must not count as a browser's was sent (and
		// goes on with the app's other headers).
		if got := stub.Requests()[0].Header.Get("Sec-Fetch-Mode"); got != "cors" {
			t.Errorf("Node's fetch sent Sec-Fetch-Mode %q, want cors: this test no longer shows it passes", got)
		}
	})
}

// TestIntegrationUnixSocket: the proxy on a Unix socket (bind
// unix/<path>|0660), the first choice for apps on the same host: the
// socket file has the mode asked for, a request over it is signed whatever
// its Host (no page can reach a socket, so the Host check does not apply,
// as Caddy's admin endpoint does not check it there), and curl and Node
// reach it.
func TestIntegrationUnixSocket(t *testing.T) {
	stub := testkit.NewStub(t)
	dir, err := os.MkdirTemp("", "wxsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "proxy.sock")
	loadCaddyfile(t, newTester(t), proxySite{upstream: stub.URL, address: "http://", bind: "unix/" + sock + "|0660"}.caddyfile(t))
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket file mode %v, want a socket with 0660", fi.Mode())
	}
	check := func(t *testing.T, status int, out string) {
		t.Helper()
		if status != 200 || !strings.Contains(out, "stub_presign_token") {
			t.Fatalf("answered %d %s", status, out)
		}
		reqs := stub.Requests()
		if len(reqs) != 1 || reqs[0].SignatureOK != nil {
			t.Fatalf("upstream got %d requests", len(reqs))
		}
		testkit.CheckEncrypted(t, []byte(testkit.PresignBody), reqs[0].Body, testkit.PresignFields, testkit.PresignPlain)
	}
	t.Run("Go, any Host", func(t *testing.T) {
		stub.Reset()
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post("http://wechatpay-proxy.any.name/v3/eduschoolpay/contracts/presign",
			"application/json", strings.NewReader(testkit.PresignBody))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		check(t, resp.StatusCode, string(out))
	})
	split := func(out string) (int, string) {
		code, rest, _ := strings.Cut(out, " ")
		n, _ := strconv.Atoi(code)
		return n, rest
	}
	t.Run("curl --unix-socket", func(t *testing.T) {
		curl := clientPath(t, "curl", "curl")
		stub.Reset()
		status, body := curlOutput(runClient(t, curl, "-sS", "--unix-socket", sock, "-w", "\n%{http_code}",
			"-H", "Content-Type: application/json", "-d", testkit.PresignBody, "http://localhost/v3/eduschoolpay/contracts/presign"))
		check(t, status, body)
	})
	t.Run("Node http socketPath", func(t *testing.T) {
		node := clientPath(t, "node", "nodejs")
		stub.Reset()
		t.Setenv("SOCK", sock)
		t.Setenv("URI", "/v3/eduschoolpay/contracts/presign")
		t.Setenv("BODY", testkit.PresignBody)
		status, body := split(runClient(t, node, "-e", nodeUnixSocket))
		check(t, status, body)
	})
}

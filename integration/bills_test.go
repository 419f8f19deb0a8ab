package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/tidwall/gjson"
)

// The bill codes and header, as docs/bills.md gives them.
const (
	codeBillHashMismatch = "BILL_HASH_MISMATCH"
	codeBillTooLarge     = "BILL_TOO_LARGE"
	codeBillUnverified   = "BILL_UNVERIFIED"
	billVerdictHeader    = "Wechatpay-Proxy-Bill"
	billTempPattern      = "wechatpay-bill-*"
)

// billFront stands before the sandbox: it passes every request on, except
// the bills of its own (a list call with scenario=own, signed here with the
// WeChat Pay key, and their downloads), which it serves as mode says.
type billFront struct {
	*httptest.Server
	box  *testkit.CertSandbox
	mode atomic.Value // string: "", "stall", "short", "cut"

	mu      sync.Mutex
	files   map[string][]byte
	stalled chan struct{}
}

func newBillFront(t *testing.T) *billFront {
	f := &billFront{box: testkit.NewCertSandbox(t, nil), files: map[string][]byte{}, stalled: make(chan struct{}, 1)}
	f.mode.Store("")
	target, _ := url.Parse(f.box.TS.URL)
	pass := httputil.NewSingleHostReverseProxy(target)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == sandbox.TradeBillPath && q.Get("scenario") == "own":
			f.list(t, w, q.Get("size"))
		case r.URL.Path == sandbox.BillDownloadPath && f.file(q.Get("token")) != nil:
			f.download(w, r, f.file(q.Get("token")))
		default:
			pass.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *billFront) file(token string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files[token]
}

// list answers a trade bill of size bytes (plain), signed.
func (f *billFront) list(t *testing.T, w http.ResponseWriter, size string) {
	n, _ := strconv.Atoi(size)
	bill := billOfSize(n)
	token := testkit.RandomAlnum(32)
	f.mu.Lock()
	f.files[token] = bill
	f.mu.Unlock()
	sum := sha1.Sum(bill)
	body, _ := json.Marshal(map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]),
		"download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=" + token})
	c := testkit.Creds()
	testkit.SignWechatPay(t, w.Header(), c.WechatPayKey, c.PublicKeyID, time.Now().Unix(), testkit.RandomAlnum(32), body, "")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (f *billFront) download(w http.ResponseWriter, r *http.Request, file []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	switch f.mode.Load().(string) {
	case "stall": // half the bill, then nothing until the proxy goes away
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		_, _ = w.Write(file[:len(file)/2])
		w.(http.Flusher).Flush()
		f.stalled <- struct{}{}
		<-r.Context().Done()
	case "short": // one byte less, honestly announced
		w.Header().Set("Content-Length", strconv.Itoa(len(file)-1))
		_, _ = w.Write(file[:len(file)-1])
	case "cut": // the connection breaks before the announced length
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		_, _ = w.Write(file[:len(file)/2])
	default:
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		_, _ = w.Write(file)
	}
}

// billOfSize is a bill of about n bytes of WeChat Pay's shape.
func billOfSize(n int) []byte {
	var b bytes.Buffer
	b.WriteString("交易时间,商户号,微信订单号,商户订单号,交易状态,应结订单金额\r\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "`2026-12-07 10:00:00,`1900000001,`4200000000%016d,`OWNBILL%08d,`SUCCESS,`%d.%02d\r\n", i, i, i%100, i%100)
	}
	return b.Bytes()
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func gunzipAll(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// downloadPath is the path and query of a download_url.
func downloadPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func errorCode(b []byte) string { return gjson.GetBytes(b, "code").String() }

// TestIntegrationBills lists bills through a real Caddy, downloads them and
// checks what the app gets against the sandbox's digests (computed by the
// sandbox, apart from the module), then the refusals; last, every line the
// proxy logged (at DEBUG) is searched for bytes of the bills.
func TestIntegrationBills(t *testing.T) {
	front := newBillFront(t)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "tmp")
	if err := os.Mkdir(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", spoolDir) // where the proxy's spools go (os.TempDir)
	logFile := filepath.Join(dir, "caddy.log")
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: front.URL, handler: "decrypt_responses\n\t\tmax_bill_size 8MiB",
		globals: "storage file_system " + filepath.Join(dir, "storage") + "\n\tlog {\n\t\toutput file " + logFile + "\n\t\tlevel DEBUG\n\t}"}.caddyfile(t))

	var seen [][]byte // bill bytes that must appear in no log line
	list := func(t *testing.T, uri string) gjson.Result {
		t.Helper()
		resp, body := send(t, tester, "GET", uri, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("list %s: %d %s", uri, resp.StatusCode, body)
		}
		return gjson.ParseBytes(body)
	}
	for _, tc := range []struct{ name, uri string }{
		{"trade, plain", sandbox.TradeBillPath + "?bill_date=2026-12-07&bill_type=ALL"},
		{"trade, gzip", sandbox.TradeBillPath + "?bill_date=2026-12-07&bill_type=ALL&tar_type=GZIP"},
		{"fund flow, gzip", sandbox.FundFlowBillPath + "?bill_date=2026-12-07&account_type=BASIC&tar_type=GZIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans := list(t, tc.uri)
			resp, file := send(t, tester, "GET", downloadPath(t, ans.Get("download_url").String()), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("download: %d %s", resp.StatusCode, file)
			}
			bill := file
			if strings.Contains(tc.uri, "GZIP") {
				bill = gunzipAll(t, file) // a gzip bill stays gzip, as the app asked
			}
			if sha1Hex(bill) != ans.Get("hash_value").String() {
				t.Errorf("the app got a bill whose SHA1 is not the sandbox's hash_value")
			}
			if resp.Header.Get("Content-Length") != strconv.Itoa(len(file)) || resp.Header.Get(billVerdictHeader) != "sha1=bill" {
				t.Errorf("Content-Length %q (%d bytes), %s %q", resp.Header.Get("Content-Length"), len(file), billVerdictHeader, resp.Header.Get(billVerdictHeader))
			}
			seen = append(seen, bill[len(bill)-40:])
		})
	}
	t.Run("sub-merchant, encrypted, delivered decrypted", func(t *testing.T) {
		ans := list(t, sandbox.SubMerchantFundFlowBillPath+"?sub_mchid=1900000002&bill_date=2026-12-07&account_type=BASIC&algorithm=AEAD_AES_256_GCM&tar_type=GZIP")
		part := ans.Get("download_bill_list.0")
		if part.Get("encrypt_key").String() == "" {
			t.Fatal("no encrypt_key in the list answer")
		}
		resp, file := send(t, tester, "GET", downloadPath(t, part.Get("download_url").String()), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("download: %d %s", resp.StatusCode, file)
		}
		bill := gunzipAll(t, file)
		if sha1Hex(bill) != part.Get("hash_value").String() || !bytes.Contains(bill, []byte("1900000002")) {
			t.Errorf("the decrypted bill does not match the sandbox's hash_value")
		}
		if v := resp.Header.Get(billVerdictHeader); v != "sha1=bill; decrypted" {
			t.Errorf("%s %q", billVerdictHeader, v)
		}
		seen = append(seen, bill[len(bill)-40:], []byte(part.Get("encrypt_key").String()[:40]))
	})
	refused := func(t *testing.T, uri string, status int, code string) []byte {
		t.Helper()
		resp, body := send(t, tester, "GET", uri, nil)
		if resp.StatusCode != status || errorCode(body) != code {
			t.Fatalf("%s: %d %s, want %d %s", uri, resp.StatusCode, body, status, code)
		}
		return body
	}
	t.Run("a bill changed by one byte", func(t *testing.T) {
		for _, uri := range []string{
			sandbox.TradeBillPath + "?bill_date=2026-12-07&tar_type=GZIP",
			sandbox.TradeBillPath + "?bill_date=2026-12-07",
			sandbox.SubMerchantFundFlowBillPath + "?sub_mchid=1900000002&bill_date=2026-12-07&account_type=BASIC&algorithm=AEAD_AES_256_GCM",
		} {
			ans := list(t, uri)
			dl := ans.Get("download_url").String()
			if dl == "" {
				dl = ans.Get("download_bill_list.0.download_url").String()
			}
			front.box.Srv.SetFaults(sandbox.Faults{CorruptBill: true})
			body := refused(t, downloadPath(t, dl), 502, codeBillHashMismatch)
			front.box.Srv.SetFaults(sandbox.Faults{})
			if bytes.Contains(body, []byte("SANDBOX")) || bytes.Contains(body, []byte("`")) {
				t.Errorf("the refusal carries bytes of the bill: %s", body)
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for mode, code := range map[string]string{"short": codeBillHashMismatch, "cut": codeUpstreamIncomplete} {
			ans := list(t, sandbox.TradeBillPath+"?scenario=own&size=200000")
			front.mode.Store(mode)
			refused(t, downloadPath(t, ans.Get("download_url").String()), 502, code)
			front.mode.Store("")
		}
	})
	t.Run("unrecorded token", func(t *testing.T) {
		refused(t, sandbox.BillDownloadPath+"?token=never-issued", 502, codeBillUnverified)
		ans := list(t, sandbox.TradeBillPath+"?bill_date=2026-12-07")
		refused(t, downloadPath(t, ans.Get("download_url").String())+"x", 502, codeBillUnverified)
	})
	t.Run("over max_bill_size", func(t *testing.T) {
		ans := list(t, sandbox.TradeBillPath+"?scenario=own&size="+strconv.Itoa(9<<20))
		body := refused(t, downloadPath(t, ans.Get("download_url").String()), 502, codeBillTooLarge)
		if !bytes.Contains(body, []byte("max_bill_size")) {
			t.Errorf("the refusal does not name max_bill_size: %s", body)
		}
	})
	t.Run("spooled to a file, removed", func(t *testing.T) {
		ans := list(t, sandbox.TradeBillPath+"?scenario=own&size="+strconv.Itoa(3<<20))
		resp, file := send(t, tester, "GET", downloadPath(t, ans.Get("download_url").String()), nil)
		if resp.StatusCode != 200 || sha1Hex(file) != ans.Get("hash_value").String() {
			t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(file))
		}
		assertNoSpool(t, spoolDir)
	})
	t.Run("the app goes away mid-download", func(t *testing.T) {
		ans := list(t, sandbox.TradeBillPath+"?scenario=own&size="+strconv.Itoa(3<<20))
		front.mode.Store("stall")
		defer front.mode.Store("")
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", proxyURL+downloadPath(t, ans.Get("download_url").String()), nil)
		done := make(chan error, 1)
		go func() {
			resp, err := tester.Client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-front.stalled:
		case <-time.After(10 * time.Second):
			t.Fatal("the download never reached the upstream")
		}
		// 1.5 MiB of the bill is on its way: past the spool's memory,
		// so a file appears once it has reached the proxy.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			left, _ := filepath.Glob(filepath.Join(spoolDir, billTempPattern))
			if len(left) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d spool files while 1.5 MiB of the bill is held, want 1", len(left))
			}
		}
		cancel()
		<-done
		assertNoSpool(t, spoolDir)
	})

	// Nothing of a bill, nor of its key, in any line the proxy logged.
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(logs, []byte("a bill failed its check")) {
		t.Error("the log has no line of the refused bill: the search below would prove nothing")
	}
	for _, s := range append(seen, []byte("SANDBOX0000"), []byte("OWNBILL"), []byte("交易时间")) {
		if bytes.Contains(logs, s) {
			t.Errorf("the log holds bytes of a bill or key: %q", s)
		}
	}
}

// assertNoSpool waits a little for the spool files to go (the handler
// removes them as it returns), then fails if any is left.
func assertNoSpool(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(dir, billTempPattern))
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool files left behind: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

//go:build linux

// Command bills measures a bill download through the proxy against its
// floor (issue 27): a bill of -size bytes (200 MB by default), plain and
// gzip, is listed and downloaded through Caddy with the wechatpay handler
// (bench/caddybin, a separate process), which fetches it whole, checks its
// SHA1 (of the gunzipped bill for the gzip one) and only then passes it on;
// the floor is this process fetching the same bytes from the same stand-in
// directly and computing the same SHA1 (and gunzip) as they arrive.
//
//	go run ./bench/bills                 # 200 MB, 2 rounds, about 1-2 minutes
//	go run ./bench/bills -size 20MB      # a smoke run
//
// Each download through the proxy prints its two phases: until the first
// byte reaches the app (the proxy fetched the whole bill and checked it)
// and the sending. It prints one table: per kind, the best floor and proxy times of the
// rounds (interleaved) and their ratio (goal ≤ 1.5), then the best time of
// one direct transfer without digest and the least ratio a proxy that sends
// the bill a second time can reach, (floor + transfer) / floor; the growth of the
// Caddy process's peak RSS (VmHWM) over the whole run (goal ≤ 64 MiB); and
// the temporary files left in the proxy's TMPDIR (goal 0). It exits 1 when a
// goal is missed. Everything listens on 127.0.0.1.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

const (
	mchID       = "1900000001"
	serialNo    = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	publicKeyID = "PUB_KEY_ID_0114232134912410000000000077"
)

func main() {
	sizeFlag := flag.String("size", "200MB", "size of the bill (before gzip)")
	rounds := flag.Int("rounds", 2, "rounds of floor and proxy, interleaved")
	flag.Parse()
	size, err := humanize.ParseBytes(*sizeFlag)
	if err != nil || size < 1<<20 {
		fail(fmt.Errorf("-size %q: want a size of at least 1MiB", *sizeFlag))
	}
	if err := run(int64(size), max(*rounds, 1)); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/bills:", err)
	os.Exit(1)
}

// file is one bill as the stand-in serves it.
type file struct {
	kind, path, hash string // hash: SHA1 of the bill (gunzipped)
	size             int64
}

func run(size int64, rounds int) error {
	dir, err := os.MkdirTemp("", "bench-bills-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spoolDir := filepath.Join(dir, "tmp")
	if err := os.Mkdir(spoolDir, 0o700); err != nil {
		return err
	}
	fmt.Printf("generating a %s bill and its gzip in %s ...\n", humanize.IBytes(uint64(size)), dir)
	plain, gz, err := writeBills(dir, size)
	if err != nil {
		return err
	}
	merchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	wechat, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	up, err := startStandIn(wechat, []file{plain, gz})
	if err != nil {
		return err
	}
	defer up.close()
	fmt.Println("building Caddy with the module (bench/caddybin) ...")
	bin := filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "./bench/caddybin").CombinedOutput(); err != nil {
		return fmt.Errorf("building Caddy (run from the repository root): %v\n%s", err, out)
	}
	proxy, stop, err := startCaddy(dir, bin, spoolDir, merchant, wechat, up.addr, size)
	if err != nil {
		return err
	}
	defer stop()
	// One small list call, so that the baseline is a process that has
	// served a verified answer.
	if _, err := listThrough(proxy.addr, plain.kind); err != nil {
		return err
	}
	base, err := vmHWM(proxy.pid)
	if err != nil {
		return err
	}
	best := map[string][3]time.Duration{} // floor, through the proxy, one transfer
	for r := range rounds {
		for _, f := range []file{plain, gz} {
			floor, err := floorRun(up.addr, f)
			if err != nil {
				return fmt.Errorf("floor, %s: %w", f.kind, err)
			}
			through, err := proxyRun(proxy.addr, f)
			if err != nil {
				return fmt.Errorf("proxy, %s: %w", f.kind, err)
			}
			transfer, err := transferRun(up.addr, f)
			if err != nil {
				return fmt.Errorf("transfer, %s: %w", f.kind, err)
			}
			fmt.Printf("round %d, %-5s floor %7.3fs  proxy %7.3fs  one transfer %7.3fs\n", r+1, f.kind, floor.Seconds(), through.Seconds(), transfer.Seconds())
			b, seen := best[f.kind]
			if !seen || floor < b[0] {
				b[0] = floor
			}
			if !seen || through < b[1] {
				b[1] = through
			}
			if !seen || transfer < b[2] {
				b[2] = transfer
			}
			best[f.kind] = b
		}
	}
	peak, err := vmHWM(proxy.pid)
	if err != nil {
		return err
	}
	left, _ := filepath.Glob(filepath.Join(spoolDir, "*"))

	ok := true
	fmt.Printf("\nBill download through the proxy, %s bill, best of %d rounds (machine shared: compare within this run)\n", humanize.IBytes(uint64(size)), rounds)
	fmt.Println("| bill | bytes sent | floor (direct + SHA1 [+ gunzip]) | through the proxy | ratio | goal ≤ 1.5 | one transfer alone | least ratio (floor + transfer) / floor |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, f := range []file{plain, gz} {
		b := best[f.kind]
		ratio := b[1].Seconds() / b[0].Seconds()
		ok = ok && ratio <= 1.5
		fmt.Printf("| %s | %s | %.3f s | %.3f s | %.2f | %s | %.3f s | %.2f |\n", f.kind, humanize.IBytes(uint64(f.size)), b[0].Seconds(), b[1].Seconds(), ratio, verdict(ratio <= 1.5),
			b[2].Seconds(), (b[0]+b[2]).Seconds()/b[0].Seconds())
	}
	growth := peak - base
	ok = ok && growth <= 64<<20 && len(left) == 0
	fmt.Printf("| Caddy peak RSS (VmHWM) | %s before, %s after | growth %s | | | %s (≤ 64 MiB) |\n",
		humanize.IBytes(uint64(base)), humanize.IBytes(uint64(peak)), humanize.IBytes(uint64(growth)), verdict(growth <= 64<<20))
	fmt.Printf("| temporary files left in the proxy's TMPDIR | %d | | | | %s (0) |\n", len(left), verdict(len(left) == 0))
	if !ok {
		return errors.New("a goal was missed")
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// writeBills writes a trade bill of about size bytes and its gzip.
func writeBills(dir string, size int64) (plain, gz file, err error) {
	plain = file{kind: "plain", path: filepath.Join(dir, "bill.csv")}
	gz = file{kind: "gzip", path: filepath.Join(dir, "bill.csv.gz")}
	pf, err := os.Create(plain.path)
	if err != nil {
		return plain, gz, err
	}
	defer pf.Close()
	gf, err := os.Create(gz.path)
	if err != nil {
		return plain, gz, err
	}
	defer gf.Close()
	zw := gzip.NewWriter(gf)
	h := sha1.New()
	w := bufio.NewWriterSize(io.MultiWriter(pf, zw, h), 1<<20)
	var n int64
	head := "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,手续费,费率\r\n"
	k, _ := w.WriteString(head)
	n += int64(k)
	for i := 0; n < size; i++ {
		k, _ = fmt.Fprintf(w, "`2026-12-07 %02d:%02d:%02d,`wx8888888888888888,`%s,`0,`,`42000000202612070%011d,`ORDER%012d,`oUpF8uMuAJOM2pxb1Q%06d,`NATIVE,`SUCCESS,`OTHERS,`CNY,`%d.%02d,`0.00,`商品%d,`0.00000,`0.60%%\r\n",
			i/3600%24, i/60%60, i%60, mchID, i, i, i%1000000, 1+i%500, i%100, i%97)
		n += int64(k)
	}
	if err := w.Flush(); err != nil {
		return plain, gz, err
	}
	if err := zw.Close(); err != nil {
		return plain, gz, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	plain.hash, gz.hash, plain.size = sum, sum, n
	st, err := gf.Stat()
	if err != nil {
		return plain, gz, err
	}
	gz.size = st.Size()
	return plain, gz, nil
}

// standIn serves signed list answers and the bill files.
type standIn struct {
	addr  string
	srv   *http.Server
	key   *rsa.PrivateKey
	files map[string]file
	mu    sync.Mutex
	token map[string]file
}

func startStandIn(key *rsa.PrivateKey, files []file) (*standIn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &standIn{addr: ln.Addr().String(), key: key, files: map[string]file{}, token: map[string]file{}}
	for _, f := range files {
		s.files[f.kind] = f
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *standIn) close() { _ = s.srv.Close() }

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v3/bill/tradebill":
		f, ok := s.files[r.URL.Query().Get("kind")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		tok := randomHex(16)
		s.mu.Lock()
		s.token[tok] = f
		s.mu.Unlock()
		body, _ := json.Marshal(map[string]string{"hash_type": "SHA1", "hash_value": f.hash,
			"download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=" + tok})
		if err := s.sign(w.Header(), body); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	case "/v3/billdownload/file":
		s.mu.Lock()
		f, ok := s.token[r.URL.Query().Get("token")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		in, err := os.Open(f.path)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer in.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(f.size, 10))
		_, _ = io.Copy(w, in)
	default:
		http.NotFound(w, r)
	}
}

// sign signs an answer as WeChat Pay does: SHA256withRSA over
// "timestamp\nnonce\nbody\n".
func (s *standIn) sign(h http.Header, body []byte) error {
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), randomHex(16)
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return err
	}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Serial", publicKeyID)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// caddyProc is the proxy under test.
type caddyProc struct {
	addr string
	pid  int
}

func startCaddy(dir, bin, spoolDir string, merchant, wechat *rsa.PrivateKey, upstream string, size int64) (*caddyProc, func(), error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(merchant)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&wechat.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	keyPath, pubPath := filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "pub_key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "Caddyfile")
	text := fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
}
http://%s {
	wechatpay {
		mchid         %s
		serial_no     %s
		private_key   %s
		public_key_id %s
		public_key    %s
		max_bill_size %d
	}
	reverse_proxy %s
}
`, filepath.Join(dir, "storage"), addr, mchID, serialNo, keyPath, publicKeyID, pubPath, 2*size, upstream)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "TMPDIR="+spoolDir, "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("the Caddy process did not start:\n%s", logs.String())
		}
	}
	return &caddyProc{addr: addr, pid: cmd.Process.Pid}, stop, nil
}

var client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}

// listThrough asks for a bill at addr (the proxy or the stand-in) and
// returns its download path and query.
func listThrough(addr, kind string) (string, error) {
	resp, err := client.Get("http://" + addr + "/v3/bill/tradebill?bill_date=2026-12-07&kind=" + kind)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("list: %d %s", resp.StatusCode, body)
	}
	var ans struct {
		DownloadURL string `json:"download_url"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return "", err
	}
	i := strings.Index(ans.DownloadURL, "/v3/")
	if i < 0 {
		return "", fmt.Errorf("download_url %q", ans.DownloadURL)
	}
	return ans.DownloadURL[i:], nil
}

// floorRun fetches the bill from the stand-in and computes its SHA1 (of the
// gunzipped bill for the gzip one) as it arrives: the least a verified
// download costs.
func floorRun(upstream string, f file) (time.Duration, error) {
	resp, start, err := download(upstream, f)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	h := sha1.New()
	var body io.Reader = resp.Body
	if f.kind == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return 0, err
		}
		body = zr
	}
	if _, err := io.Copy(h, body); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if hex.EncodeToString(h.Sum(nil)) != f.hash {
		return 0, errors.New("the floor's SHA1 is not the bill's")
	}
	return took, nil
}

// proxyRun lists the bill through the proxy and downloads it as the app
// does: the proxy checks it; the app reads it whole.
func proxyRun(proxy string, f file) (time.Duration, error) {
	resp, start, err := download(proxy, f)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	firstByte := time.Since(start) // the proxy has fetched and checked the bill
	n, err := io.Copy(sink{}, resp.Body)
	fmt.Printf("  %-5s through the proxy: fetched and checked after %.3fs, then sent in %.3fs\n",
		f.kind, firstByte.Seconds(), (time.Since(start) - firstByte).Seconds())
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 || n != f.size || resp.Header.Get("Wechatpay-Proxy-Bill") == "" {
		return 0, fmt.Errorf("the proxy answered %d with %d bytes of %d (%s %q)", resp.StatusCode, n, f.size,
			"Wechatpay-Proxy-Bill", resp.Header.Get("Wechatpay-Proxy-Bill"))
	}
	return took, nil
}

// download lists f's bill through addr (the stand-in or the proxy), then
// asks addr for the download URL it named; start is when it asked.
func download(addr string, f file) (resp *http.Response, start time.Time, err error) {
	uri, err := listThrough(addr, f.kind)
	if err != nil {
		return nil, start, err
	}
	start = time.Now()
	resp, err = client.Get("http://" + addr + uri)
	return resp, start, err
}

// sink discards what is written to it. Unlike io.Discard it has no
// ReadFrom (which reads in 8 KiB pieces), so io.Copy reads the app's
// download in 32 KiB pieces, as the floor reads its own.
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

// transferRun fetches the bill directly, without digest: what one loopback
// transfer of it costs, the least the proxy's second transfer (to the app,
// after the check) adds to the floor.
func transferRun(upstream string, f file) (time.Duration, error) {
	resp, start, err := download(upstream, f)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(sink{}, resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if n != f.size {
		return 0, fmt.Errorf("the direct transfer got %d bytes of %d", n, f.size)
	}
	return took, nil
}

// vmHWM is a process's peak resident set size, in bytes.
func vmHWM(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// Command manymerchants measures what many merchants cost Caddy: a
// wechatpay app with -n merchants and a route each (handle_path /mN/*,
// `wechatpay { merchant mN }`), with the built-in catalog and with
// `catalog off`, and the same merchants behind one route that chooses the
// merchant per request (`merchant {http.vars...}`). For each it starts
// Caddy (bench/caddybin, built here) as a process of its own, and prints
// the time until it serves, its resident memory (VmRSS), the time of a
// forced configuration reload (POST /load with Cache-Control:
// must-revalidate, what `caddy reload --force` sends) and the memory
// after it:
//
//	go run ./bench/manymerchants            # -n 500 (default)
//
// The figures are in docs/performance.md.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
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
	"time"
)

func main() {
	n := flag.Int("n", 500, "merchants")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "manymerchants:", err)
		os.Exit(1)
	}
}

// variant is one configuration measured.
type variant struct {
	name string
	site func(n int) string
}

func run(n int) error {
	dir, err := os.MkdirTemp("", "manymerchants")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", bin, "./bench/caddybin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building bench/caddybin: %w", err)
	}
	keys, err := writeKeys(dir)
	if err != nil {
		return err
	}
	perRoute := func(extra string) func(int) string {
		return func(n int) string {
			var b strings.Builder
			for i := 1; i <= n; i++ {
				fmt.Fprintf(&b, "\thandle_path /m%d/* {\n\t\twechatpay {\n\t\t\tmerchant m%d\n%s\t\t}\n\t\treverse_proxy 127.0.0.1:9\n\t}\n", i, i, extra)
			}
			return b.String()
		}
	}
	variants := []variant{
		{"a route per merchant", perRoute("")},
		{"a route per merchant, catalog off", perRoute("\t\t\tcatalog off\n")},
		{"one route, merchant per request", func(int) string {
			return "\thandle {\n\t\tvars wechatpay_merchant {http.request.uri.path.0}\n\t\turi strip_prefix /{http.vars.wechatpay_merchant}\n" +
				"\t\twechatpay {\n\t\t\tmerchant {http.vars.wechatpay_merchant}\n\t\t}\n\t\treverse_proxy 127.0.0.1:9\n\t}\n"
		}},
	}
	fmt.Printf("%d merchants (one process per row; the machine is shared: compare the rows of one run)\n\n", n)
	fmt.Printf("| configuration | start (s) | RSS (MB) | forced reload (s) | RSS after reload (MB) |\n| --- | ---: | ---: | ---: | ---: |\n")
	var rss []float64
	for _, v := range variants {
		r, err := measure(bin, dir, keys, n, v)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		rss = append(rss, r.rss)
		fmt.Printf("| %s | %.2f | %.0f | %.2f | %.0f |\n", v.name, r.start.Seconds(), r.rss, r.reload.Seconds(), r.rssAfter)
	}
	fmt.Printf("\nRSS of a route per merchant / the same with catalog off: %.2fx\n", rss[0]/rss[1])
	return nil
}

type result struct {
	start, reload time.Duration
	rss, rssAfter float64
}

// measure runs Caddy with the variant's configuration and measures it.
func measure(bin, dir, keys string, n int, v variant) (result, error) {
	admin, site := freePort(), freePort()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "{\n\tadmin localhost:%d\n\tpersist_config off\n\tstorage file_system %s\n\twechatpay {\n", admin, filepath.Join(dir, "storage"))
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&cfg, "\t\tmerchant m%d {\n%s\t\t}\n", i, keys)
	}
	fmt.Fprintf(&cfg, "\t}\n}\nhttp://127.0.0.1:%d {\n%s}\n", site, v.site(n))
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}()
	adminURL := "http://localhost:" + strconv.Itoa(admin)
	if err := awaitServing(site, 2*time.Minute); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, tail(logs.String()))
	}
	var r result
	r.start = time.Since(began)
	time.Sleep(2 * time.Second) // let the start's garbage be collected
	r.rss = rssMB(cmd.Process.Pid)

	adapted, err := exec.Command(bin, "adapt", "--config", file, "--adapter", "caddyfile").Output()
	if err != nil {
		return r, fmt.Errorf("adapting: %w", err)
	}
	req, _ := http.NewRequest(http.MethodPost, adminURL+"/load", bytes.NewReader(adapted))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cache-Control", "must-revalidate") // caddy reload --force
	began = time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return r, fmt.Errorf("reload: %d %s", resp.StatusCode, body)
	}
	r.reload = time.Since(began)
	time.Sleep(2 * time.Second)
	r.rssAfter = rssMB(cmd.Process.Pid)
	return r, nil
}

// awaitServing waits until the site answers.
func awaitServing(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("caddy did not serve within %s", limit)
}

// rssMB reads the process's resident memory, in MB.
func rssMB(pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return kb / 1024
		}
	}
	return 0
}

// writeKeys writes one merchant's key files, which every merchant names
// (each still loads its own copy), and returns the merchant block's lines.
func writeKeys(dir string) (string, error) {
	merchantKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	wechatpayKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(merchantKey)
	if err != nil {
		return "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&wechatpayKey.PublicKey)
	if err != nil {
		return "", err
	}
	keyFile, pubFile := filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "pub_key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return "", err
	}
	return "\t\t\tmchid 1900000001\n\t\t\tserial_no 3775B6A45ACD588826D15E583A95F5DD12345678\n\t\t\tprivate_key " + keyFile +
		"\n\t\t\tpublic_key_id PUB_KEY_ID_0114232134912410000000000000\n\t\t\tpublic_key " + pubFile + "\n", nil
}

// freePort returns a port free now on the loopback interface.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail returns the end of a log, for an error.
func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// The OpenSSL rows: the floor and the module with the merchant's signature
// made by OpenSSL's libcrypto (internal/rsacrypto built with cgo and the tag
// openssl, libcrypto loaded at run time). prepareOpenSSL builds this program
// and bench/caddybin a second time so, before the process pins itself, and
// checks that libcrypto loads; where it cannot (no C compiler, a failed
// build, no libcrypto) the rows are dropped with a line that says why, and
// the rest of the benchmark runs as before.

// backendCommand is the hidden subcommand that prints the RSA backend of
// the build ("OpenSSL<TAB>version") and exits 1 with the reason when it is
// not OpenSSL.
const backendCommand = "__backend"

// isOpenSSLRow reports whether row needs the OpenSSL builds.
func isOpenSSLRow(row string) bool { return strings.HasSuffix(row, "-openssl") }

func backendMain() {
	name, version, err := rsacrypto.Backend()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s\t%s\n", name, version)
}

// prepareOpenSSL builds the OpenSSL builds when -rows names an OpenSSL row
// (or, forRows false, the OpenSSL build of this program alone, to sign the
// stand-in's answers), and sets o.BenchOpenSSL, o.CaddyOpenSSL and
// o.OpenSSL; or drops those rows from o.Rows, saying why.
func prepareOpenSSL(o *options, bin string, forRows bool) {
	want := !forRows
	for _, row := range strings.Split(o.Rows, ",") {
		want = want || isOpenSSLRow(row)
	}
	if !want {
		o.CaddyOpenSSL, o.BenchOpenSSL, o.OpenSSL = "", "", ""
		return
	}
	skip := func(why string) {
		var rows []string
		for _, row := range strings.Split(o.Rows, ",") {
			if !isOpenSSLRow(row) {
				rows = append(rows, row)
			}
		}
		o.Rows = strings.Join(rows, ",")
		o.CaddyOpenSSL, o.BenchOpenSSL, o.OpenSSL = "", "", "skipped: "+why
		if forRows {
			step("OpenSSL rows skipped: %s; the other rows run as usual", why)
		} else {
			step("OpenSSL not used to sign the stand-in's answers: %s; Go signs them", why)
		}
	}
	cc := "gcc"
	if out, err := exec.Command("go", "env", "CC").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		cc = strings.Fields(string(out))[0]
	}
	if _, err := exec.LookPath(cc); err != nil {
		skip(fmt.Sprintf("no C compiler (%s not found), which cgo needs", cc))
		return
	}
	cgo := []string{"CGO_ENABLED=1"}
	step("building the benchmark with cgo and the tag openssl (the OpenSSL floor, and the stand-in's signer)")
	benchBin := filepath.Join(bin, "bench-openssl")
	if err := goBuildEnv(benchBin, "./bench", cgo, "-tags", "openssl"); err != nil {
		skip(fmt.Sprintf("go build -tags openssl ./bench with cgo failed (%v)", err))
		return
	}
	out, err := exec.Command(benchBin, backendCommand).CombinedOutput()
	name, version, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if err != nil || name != "OpenSSL" {
		skip(fmt.Sprintf("libcrypto does not load: %s", strings.TrimSpace(string(out))))
		return
	}
	if o.CaddyOpenSSL == "" && forRows {
		step("building Caddy with the wechatpay module, cgo and the tag openssl (bench/caddybin)")
		caddyBin := filepath.Join(bin, "caddy-openssl")
		if err := goBuildEnv(caddyBin, "./bench/caddybin", cgo, "-tags", "openssl"); err != nil {
			skip(fmt.Sprintf("go build -tags openssl ./bench/caddybin with cgo failed (%v)", err))
			return
		}
		o.CaddyOpenSSL = caddyBin
	}
	o.BenchOpenSSL, o.OpenSSL = benchBin, version
	if forRows {
		step("OpenSSL rows: the merchant's signatures through %s", version)
	}
}

// backendCheck reads the log of a module server and says what is wrong
// with the RSA backend it reported at start ("" when it is the row's):
// Go's crypto/rsa for the module row, OpenSSL for module-openssl.
func (s *server) backendCheck() string {
	want := map[string]string{"module": "Go crypto/rsa", "module-openssl": "OpenSSL"}[s.kind]
	if want == "" || s.log == nil {
		return ""
	}
	data, err := os.ReadFile(s.log.Name())
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, `"RSA signatures`) {
			if strings.Contains(line, `"backend":"`+want+`"`) {
				return ""
			}
			return fmt.Sprintf("the module does not sign with %s: %.300s", want, line)
		}
	}
	return fmt.Sprintf("the module logged no RSA backend (want %s)", want)
}

package wechatpay

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	stub := newStubWechatPay(t)
	dir := t.TempDir()
	logFile, accessFile := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	tester := newTester(t)
	tester.InitServer(proxySite{upstream: stub.URL, globals: debugLogGlobals(logFile), site: accessLogSite(accessFile)}.caddyfile(t), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
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
		stub.reset()
		secret := fmt.Sprintf("QSECRET%02dVALUE", i)
		resp, out := send(t, tester, "GET", strings.ReplaceAll(tc.uri, "{v}", secret), nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, out)
		}
		for _, r := range stub.requests() {
			if strings.Contains(r.uri, secret) {
				t.Errorf("%s: plaintext reached WeChat Pay: %s", tc.name, r.uri)
			}
			if r.signatureOK != nil {
				t.Errorf("%s: %v", tc.name, r.signatureOK)
			}
		}
		if tc.status == 200 {
			if len(stub.requests()) != 1 {
				t.Fatalf("%s: %d requests upstream", tc.name, len(stub.requests()))
			}
			uri := stub.requests()[0].uri
			q, _ := url.ParseQuery(uri[strings.IndexByte(uri, '?')+1:])
			for name, vals := range q {
				if plain, err := utils.DecryptOAEP(vals[0], testCredentials(t).wechatpayKey); err == nil && !strings.Contains(plain, secret) {
					t.Errorf("%s: %s decrypts to %q", tc.name, name, plain)
				}
			}
		}
	}
	send(t, tester, "GET", "/v3/pay/transactions/id/LOGMARKER?mchid=1900000001", nil)
	logs := waitForLogLine(t, accessFile, "LOGMARKER")
	all, _ := os.ReadFile(logFile)
	for _, line := range strings.Split(logs+string(all), "\n") {
		if i := strings.Index(line, "QSECRET"); i >= 0 {
			var n int
			fmt.Sscanf(line[i:], "QSECRET%02d", &n)
			t.Errorf("%s: a log line holds the value: %.400s", cases[n].name, line)
		}
	}
}

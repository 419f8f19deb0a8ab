package golivecheck

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleTargets(fail bool) []*Target {
	a := &Target{Name: "merchant school", MchID: "1900000001", URL: "https://api.mch.weixin.qq.com/v3/certificates"}
	a.Add(CheckPrivateKey, OK, "RSA 2048-bit key loads", "")
	a.Add(CheckBackup, Warn, "api2.mch.weixin.qq.com:443 does not answer a TLS handshake", "let this host reach it")
	b := &Target{Name: "wechatpay handler #1 of server srv0 (:9180)"}
	if fail {
		b.Add(CheckSignature, Fail, `WeChat Pay refuses it: 401 SIGN_ERROR "错误的签名，验签失败"`, "private_key: ...")
		b.Add(CheckAnswer, Skipped, "WeChat Pay's refusal carries no signature to verify", "")
	} else {
		b.Add(CheckSignature, OK, "WeChat Pay accepts it", "")
	}
	return []*Target{a, b}
}

// TestReportExitStatus: warnings pass, one failed line fails the run.
func TestReportExitStatus(t *testing.T) {
	if r := NewReport(sampleTargets(false)); !r.OK || r.ExitStatus() != 0 {
		t.Errorf("warnings only: ok %v, status %d; want true, 0", r.OK, r.ExitStatus())
	}
	if r := NewReport(sampleTargets(true)); r.OK || r.ExitStatus() != 1 {
		t.Errorf("a failed line: ok %v, status %d; want false, 1", r.OK, r.ExitStatus())
	}
}

// TestReportText: one heading per target, one marked line per check, the
// fix under a ✗ or ⚠ only, and a closing verdict.
func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := NewReport(sampleTargets(true)).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `merchant school (mchid 1900000001, https://api.mch.weixin.qq.com/v3/certificates)
  ✓ private_key: RSA 2048-bit key loads
  ⚠ backup_domain: api2.mch.weixin.qq.com:443 does not answer a TLS handshake
      → let this host reach it
wechatpay handler #1 of server srv0 (:9180)
  ✗ signature: WeChat Pay refuses it: 401 SIGN_ERROR "错误的签名，验签失败"
      → private_key: ...
  – answer: WeChat Pay's refusal carries no signature to verify
✗ 1 check(s) failed: change what the lines marked ✗ say, then run the check again
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	_ = NewReport(sampleTargets(false)).WriteText(&b)
	if !strings.HasSuffix(b.String(), "✓ every check passed: WeChat Pay accepts this configuration, and it accepts WeChat Pay's answers\n") {
		t.Errorf("passing run ends:\n%s", b.String())
	}
}

// TestReportJSON: one document with ok, and per target its lines with
// check, status, text and fix.
func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := NewReport(sampleTargets(true)).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OK      bool `json:"ok"`
		Targets []struct {
			Name  string `json:"name"`
			MchID string `json:"mchid"`
			URL   string `json:"url"`
			Lines []map[string]string
		} `json:"targets"`
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Error("more than one JSON document")
	}
	if doc.OK || len(doc.Targets) != 2 || doc.Targets[0].MchID != "1900000001" {
		t.Fatalf("%+v", doc)
	}
	l := doc.Targets[1].Lines[0]
	if l["check"] != "signature" || l["status"] != "fail" || l["fix"] != "private_key: ..." {
		t.Errorf("line %v", l)
	}
	if _, has := doc.Targets[0].Lines[0]["fix"]; has {
		t.Error("a passing line carries an empty fix")
	}
}

func TestDaysLeft(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		notAfter time.Time
		want     string
	}{
		{now.Add(400 * 24 * time.Hour), "400 days left"},
		{now.Add(36 * time.Hour), "1 day left"},
		{now.Add(time.Hour), "0 days left"},
		{now.Add(-time.Hour), "expired today"},
		{now.Add(-25 * time.Hour), "expired 1 day ago"},
		{now.Add(-49 * time.Hour), "expired 2 days ago"},
	} {
		if got := DaysLeft(now, tc.notAfter); got != tc.want {
			t.Errorf("DaysLeft(%s) = %q, want %q", tc.notAfter.Sub(now), got, tc.want)
		}
	}
}

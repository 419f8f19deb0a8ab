package wechatpay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// TestAdminKeysOnACaddyWithoutTheModule: an admin API that does not know
// /wechatpay/keys (404) is told apart from one that cannot be reached and
// from other refusals.
func TestAdminKeysOnACaddyWithoutTheModule(t *testing.T) {
	status := http.StatusNotFound
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"not found"}`, status)
	}))
	defer admin.Close()
	addr := strings.TrimPrefix(admin.URL, "http://")

	var out bytes.Buffer
	err := adminKeys(&out, addr, false)
	if err == nil || !strings.Contains(err.Error(), "is that Caddy built with the wechatpay module?") {
		t.Errorf("404: %v", err)
	}
	status = http.StatusInternalServerError
	if err := adminKeys(&out, addr, true); err == nil || strings.Contains(err.Error(), "built with the wechatpay module") {
		t.Errorf("500: %v", err)
	}
	admin.Close()
	if err := adminKeys(&out, addr, false); err == nil || strings.Contains(err.Error(), "built with the wechatpay module") {
		t.Errorf("unreachable: %v", err)
	}
}

// TestDescribeMerchantCertificate: the serial, the expiry and the whole
// days left, with a warning under 30 days and once expired.
func TestDescribeMerchantCertificate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const serial = "3775B6A45ACD588826D15E583A95F5DD12345678"
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name    string
		left    time.Duration
		want    string // the whole text but the warning's advice
		warning bool
	}{
		{"a year", 365 * day, "serial " + serial + ", expires 2027-03-01T12:00:00Z (365 days left)", false},
		{"30 days: no warning yet", 30 * day, "serial " + serial + ", expires 2026-03-31T12:00:00Z (30 days left)", false},
		{"a minute under 30 days", 30*day - time.Minute, "serial " + serial + ", expires 2026-03-31T11:59:00Z (29 days left): WARNING: renew it", true},
		{"a day and a half", 36 * time.Hour, "serial " + serial + ", expires 2026-03-03T00:00:00Z (1 day left): WARNING: renew it", true},
		{"an hour", time.Hour, "serial " + serial + ", expires 2026-03-01T13:00:00Z (less than a day left): WARNING: renew it", true},
		{"expiring now", 0, "serial " + serial + ", EXPIRED 2026-03-01T12:00:00Z (less than a day ago): WARNING: WeChat Pay refuses every request signed under it; renew it", true},
		{"expired 3 days ago", -3*day - time.Hour, "serial " + serial + ", EXPIRED 2026-02-26T11:00:00Z (3 days ago): WARNING: WeChat Pay refuses every request", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describeMerchantCertificate(merchantCertificateReport{Serial: serial, NotAfter: now.Add(tc.left)}, now)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got  %q\nwant %q...", got, tc.want)
			}
			if warns := strings.Contains(got, "WARNING"); warns != tc.warning {
				t.Errorf("warning %v, want %v: %q", warns, tc.warning, got)
			}
			if tc.warning && !strings.HasSuffix(got, "then run caddy wechatpay keys --reload") {
				t.Errorf("the warning does not say what to do: %q", got)
			}
		})
	}
}

// TestAdminKeysPrintsMerchantCertificate: `caddy wechatpay keys` prints
// a certificate line under each holder whose answer has one (as GET
// /wechatpay/keys writes it), and none for the others.
func TestAdminKeysPrintsMerchantCertificate(t *testing.T) {
	const day = 24 * time.Hour
	now := time.Now().Truncate(time.Second)
	far, soon, gone := now.Add(100*day+time.Hour), now.Add(10*day+time.Hour), now.Add(-2*day-time.Hour)
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	keys := `[
{"holder":"merchant ok","mchid":"1900000001","serial_no":"AAAA","merchant_certificate":{"serial":"AAAA","not_after":"` + stamp(far) + `"},"wechatpay_serial":"PUB_KEY_ID_1","wechatpay_keys":["PUB_KEY_ID_1"]},
{"holder":"merchant plain","mchid":"1900000002","serial_no":"BBBB","wechatpay_serial":"PUB_KEY_ID_2","wechatpay_keys":["PUB_KEY_ID_2"]},
{"holder":"merchant soon","mchid":"1900000003","serial_no":"CCCC","merchant_certificate":{"serial":"CCCC","not_after":"` + stamp(soon) + `"},"wechatpay_serial":"PUB_KEY_ID_3","wechatpay_keys":["PUB_KEY_ID_3"]},
{"holder":"merchant waiting","mchid":"1900000005","serial_no":"EEEE","wechatpay_keys":[]},
{"holder":"wechatpay handler (mchid 1900000004)","mchid":"1900000004","serial_no":"DDDD","merchant_certificate":{"serial":"DDDD","not_after":"` + stamp(gone) + `"},"wechatpay_serial":"PUB_KEY_ID_4","wechatpay_keys":["PUB_KEY_ID_4"]}
]`
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/wechatpay/keys":
			_, _ = w.Write([]byte(keys))
		case "/wechatpay/clock":
			_, _ = w.Write([]byte(`{"offset_seconds":0,"samples":0}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer admin.Close()

	var out bytes.Buffer
	if err := adminKeys(&out, strings.TrimPrefix(admin.URL, "http://"), false); err != nil {
		t.Fatal(err)
	}
	const renew = "renew it in the merchant platform, update private_key, serial_no and merchant_certificate, then run caddy wechatpay keys --reload"
	want := `merchant ok
  signs as    mchid 1900000001, serial_no AAAA
  certificate serial AAAA, expires ` + stamp(far) + ` (100 days left)
  encrypts    PUB_KEY_ID_1
  verifies    PUB_KEY_ID_1
merchant plain
  signs as    mchid 1900000002, serial_no BBBB
  encrypts    PUB_KEY_ID_2
  verifies    PUB_KEY_ID_2
merchant soon
  signs as    mchid 1900000003, serial_no CCCC
  certificate serial CCCC, expires ` + stamp(soon) + ` (10 days left): WARNING: ` + renew + `
  encrypts    PUB_KEY_ID_3
  verifies    PUB_KEY_ID_3
merchant waiting
  signs as    mchid 1900000005, serial_no EEEE
  verifies    nothing: ` + noWechatPayKey + `
wechatpay handler (mchid 1900000004)
  signs as    mchid 1900000004, serial_no DDDD
  certificate serial DDDD, EXPIRED ` + stamp(gone) + ` (2 days ago): WARNING: WeChat Pay refuses every request signed under it; ` + renew + `
  encrypts    PUB_KEY_ID_4
  verifies    PUB_KEY_ID_4
clock: not measured yet (no response or callback verified since start)
`
	if got := out.String(); got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
}

// TestKeysReportMerchantCertificate: GET /wechatpay/keys carries the
// merchant API certificate of a holder that names one, and leaves the
// field out for one that does not.
func TestKeysReportMerchantCertificate(t *testing.T) {
	notAfter := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	with := &keySet{signer: &apiv3.Signer{MchID: "1900000001", SerialNo: "AAAA"},
		merchantCert: &merchantCertificate{serial: "AAAA", notAfter: notAfter}}
	without := &keySet{signer: &apiv3.Signer{MchID: "1900000002", SerialNo: "BBBB"}}
	for _, tc := range []struct {
		name string
		keys *keySet
		want string
	}{
		{"with", with, `"merchant_certificate":{"serial":"AAAA","not_after":"2026-09-01T08:00:00Z"}`},
		{"without", without, ""},
	} {
		body, err := json.Marshal(reportKeys("merchant "+tc.name, tc.keys))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(body); tc.want != "" && !strings.Contains(got, tc.want) || tc.want == "" && strings.Contains(got, "merchant_certificate") {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

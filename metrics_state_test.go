package wechatpay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// only keeps the lines of the named metrics.
func only(lines []string, names ...string) []string {
	var out []string
	for _, l := range lines {
		for _, n := range names {
			if strings.HasPrefix(l, n+"{") {
				out = append(out, l)
			}
		}
	}
	return out
}

var stateNames = []string{
	"caddy_wechatpay_platform_certificate_expiry_timestamp_seconds",
	"caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds",
	"caddy_wechatpay_certificate_last_success_timestamp_seconds",
	"caddy_wechatpay_certificate_downloads_total",
}

// provisionAppIn provisions the app in ctx as App.Provision does, with a
// storage of the test's (a context made outside Caddy has none).
func provisionAppIn(t *testing.T, ctx caddy.Context, a *App, storage certmagic.Storage) {
	t.Helper()
	metrics, err := a.provisionMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := startApp(ctx, a, storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	metrics.watchApp(a)
}

// certFile writes a platform certificate with serial and expiry, returning
// its path and its expiry in the gauge's form.
func certFile(t *testing.T, serial string, notAfter time.Time) (string, string) {
	cert := testkit.SelfSigned(testkit.NewKey(), serial, time.Now().Add(-time.Hour), notAfter)
	return testkit.WriteFile(t, t.TempDir(), serial+".pem", testkit.CertPEM(cert)), strconv.FormatInt(notAfter.Unix(), 10)
}

// storedCheckedAt returns the checked_at of a merchant's stored
// certificates, in the gauge's form.
func storedCheckedAt(t *testing.T, storage *certmagic.FileStorage, mchid string) string {
	t.Helper()
	raw, err := os.ReadFile(storage.Filename(certstore.Key(mchid)))
	if err != nil {
		t.Fatal(err)
	}
	var doc certstore.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatFloat(epochSeconds(doc.CheckedAt), 'f', -1, 64)
}

// TestStateMetrics: every certificate in use is reported once, with its
// expiry: downloaded or configured, in the app or in handlers with keys of
// their own; a wechatpay and a wechatpay_notify handler with the same
// certificate report it once; a merchant's downloads are counted and its
// last success is when WeChat Pay last answered.
func TestStateMetrics(t *testing.T) {
	c, rotated := testkit.Creds(), testkit.Rotated()
	ctx, reg := newConfigContext(t)
	cs := testkit.NewCertSandbox(t, nil)
	storage := fileStorage(t)
	dir := t.TempDir()
	year := time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second)
	canteenCert, canteenExpiry := certFile(t, "AAAA0000000000000000000000000000000000A1", year)
	handlerCert, handlerExpiry := certFile(t, "CCCC0000000000000000000000000000000000C1", year.Add(time.Hour))
	schoolMerchantCert := testkit.WriteFile(t, dir, "school_cert.pem", testkit.CertPEM(testkit.SelfSigned(c.MerchantKey, c.SerialNo, time.Now(), year)))
	rotatedMerchantCert := testkit.WriteFile(t, dir, "rotated_cert.pem", testkit.CertPEM(testkit.SelfSigned(rotated.MerchantKey, rotated.SerialNo, time.Now(), year.Add(2*time.Hour))))

	school := testMerchant(t, cs.TS.URL)
	school.MerchantCertificate = schoolMerchantCert
	canteen := withPublicKey(t, &Merchant{MchID: "1900000002", SerialNo: c.SerialNo, PrivateKey: testkit.PKCS8(c.MerchantKey)})
	canteen.PlatformCertificate = []string{canteenCert}
	provisionAppIn(t, ctx, &App{Merchants: map[string]*Merchant{"school": school, "canteen": canteen}}, storage)

	// A wechatpay handler and a wechatpay_notify handler with keys of their
	// own and the same platform certificate; the handler names a merchant
	// certificate.
	pub := testkit.WriteFile(t, dir, "pub.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	key := testkit.WriteFile(t, dir, "key.pem", testkit.PKCS8(rotated.MerchantKey))
	for i := 0; i < 2; i++ { // twice: two routes, the same keys
		provisionIn(t, ctx, new(Handler), `{"mchid":"`+rotated.MchID+`","serial_no":"`+rotated.SerialNo+`","private_key":"`+key+`",
			"merchant_certificate":"`+rotatedMerchantCert+`","public_key_id":"`+c.PublicKeyID+`","public_key":"`+pub+`",
			"platform_certificate":["`+handlerCert+`"]}`)
	}
	t.Setenv("TEST_WECHATPAY_APIV3_KEY", testkit.APIv3Key)
	notify := new(NotifyHandler)
	provisionIn(t, ctx, notify, `{"apiv3_key":"{env.TEST_WECHATPAY_APIV3_KEY}","platform_certificate":["`+handlerCert+`"],"dedup":false}`)

	assertLines(t, only(scrape(t, reg), stateNames...), []string{
		`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{merchant="canteen",serial="AAAA0000000000000000000000000000000000A1"} ` + canteenExpiry,
		`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{merchant="school",serial="` + c.PlatformSerial + `"} ` +
			strconv.FormatInt(c.PlatformCert.NotAfter.Unix(), 10),
		`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{merchant="1900000001",serial="CCCC0000000000000000000000000000000000C1"} ` + handlerExpiry,
		`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{merchant="school",serial="` + c.SerialNo + `"} ` + strconv.FormatInt(year.Unix(), 10),
		`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{merchant="1900000001",serial="` + rotated.SerialNo + `"} ` +
			strconv.FormatInt(year.Add(2*time.Hour).Unix(), 10),
		`caddy_wechatpay_certificate_last_success_timestamp_seconds{merchant="school"} ` + storedCheckedAt(t, storage, c.MchID),
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="ok"} 1`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="not_found"} 0`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="failed"} 0`,
	})

	// The next download fails: counted, and the last success stays.
	before := storedCheckedAt(t, storage, c.MchID)
	cs.TS.Close()
	if _, err := school.certs.refresh(context.Background(), true); err == nil {
		t.Fatal("a download from a closed server succeeded")
	}
	got := only(scrape(t, reg), "caddy_wechatpay_certificate_downloads_total", "caddy_wechatpay_certificate_last_success_timestamp_seconds")
	assertLines(t, got, []string{
		`caddy_wechatpay_certificate_last_success_timestamp_seconds{merchant="school"} ` + before,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="ok"} 1`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="not_found"} 0`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="failed"} 1`,
	})
}

// TestStateMetricsNeverDownloaded: a merchant whose downloads have always
// failed reports 0 as its last success.
func TestStateMetricsNeverDownloaded(t *testing.T) {
	ctx, reg := newConfigContext(t)
	m := withPublicKey(t, testMerchant(t, "http://"+closedAddr(t)))
	provisionAppIn(t, ctx, &App{Merchants: map[string]*Merchant{"school": m}}, fileStorage(t))
	assertLines(t, only(scrape(t, reg), stateNames...), []string{
		`caddy_wechatpay_certificate_last_success_timestamp_seconds{merchant="school"} 0`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="ok"} 0`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="not_found"} 0`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="failed"} 1`,
	})
}

// TestStateMetricsFollowTheConfiguration: each configuration's registry
// has the module's series once, however many handlers register them; a
// configuration without a merchant reports nothing of it; a key reload
// shows at the next scrape with no new registration; a stopped
// configuration's set is forgotten.
func TestStateMetricsFollowTheConfiguration(t *testing.T) {
	isolateKeyHolders(t)
	c, rotated := testkit.Creds(), testkit.Rotated()
	dir := t.TempDir()
	year := time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second)
	writeKeys := func(k *testkit.Credentials) {
		testkit.WriteFile(t, dir, "serial_no", k.SerialNo)
		testkit.WriteFile(t, dir, "key.pem", testkit.PKCS8(k.MerchantKey))
		testkit.WriteFile(t, dir, "cert.pem", testkit.CertPEM(testkit.SelfSigned(k.MerchantKey, k.SerialNo, time.Now(), year)))
	}
	writeKeys(c)
	merchant := func() *Merchant {
		m := withPublicKey(t, &Merchant{MchID: c.MchID, SerialNo: "{file." + filepath.Join(dir, "serial_no") + "}",
			PrivateKey: filepath.Join(dir, "key.pem"), MerchantCertificate: filepath.Join(dir, "cert.pem")})
		return m
	}
	first, cancelFirst := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancelFirst()
	provisionAppIn(t, first, &App{Merchants: map[string]*Merchant{"school": merchant(), "canteen": merchant()}}, fileStorage(t))
	for i := 0; i < 3; i++ {
		provisionIn(t, first, new(Handler), handlerJSON(t, ""))
	}
	expiry := strconv.FormatInt(year.Unix(), 10)
	// Both merchants have the same certificate: reported once.
	assertLines(t, only(scrape(t, first.GetMetricsRegistry()), stateNames...), []string{
		`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{merchant="canteen",serial="` + c.SerialNo + `"} ` + expiry,
	})
	if got := only(scrape(t, first.GetMetricsRegistry()), "caddy_wechatpay_encrypted_fields_total"); len(got) != 1 {
		t.Errorf("three handlers of one merchant: encrypted_fields_total series %q", got)
	}

	// The next configuration has school only.
	second, cancelSecond := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancelSecond()
	app := &App{Merchants: map[string]*Merchant{"school": merchant()}}
	provisionAppIn(t, second, app, fileStorage(t))
	for _, m := range app.Merchants {
		registerKeyHolder(second, m)
	}
	cancelFirst()
	assertLines(t, only(scrape(t, second.GetMetricsRegistry()), stateNames...), []string{
		`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{merchant="school",serial="` + c.SerialNo + `"} ` + expiry,
	})

	// A key reload: the new certificate at the next scrape.
	writeKeys(rotated)
	rec := httptest.NewRecorder()
	reloads := counterValue(t, keyReloadsTotal.WithLabelValues(metriclabels.ReloadOK))
	if err := handleKeysReload(rec, httptest.NewRequest(http.MethodPost, "/wechatpay/keys/reload", nil)); err != nil {
		t.Fatal(err)
	}
	assertLines(t, only(scrape(t, second.GetMetricsRegistry()), stateNames...), []string{
		`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{merchant="school",serial="` + rotated.SerialNo + `"} ` + expiry,
	})
	if got := counterValue(t, keyReloadsTotal.WithLabelValues(metriclabels.ReloadOK)); got != reloads+1 {
		t.Errorf("key_reloads_total{outcome=ok} went from %v to %v", reloads, got)
	}
	// A failed one.
	testkit.WriteFile(t, dir, "cert.pem", "not a certificate")
	failed := counterValue(t, keyReloadsTotal.WithLabelValues(metriclabels.ReloadFailed))
	if err := handleKeysReload(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/wechatpay/keys/reload", nil)); err == nil {
		t.Fatal("a reload with a broken certificate succeeded")
	}
	if got := counterValue(t, keyReloadsTotal.WithLabelValues(metriclabels.ReloadFailed)); got != failed+1 {
		t.Errorf("key_reloads_total{outcome=failed} went from %v to %v", failed, got)
	}

	metricSets.Lock()
	_, stillThere := metricSets.byRegistry[first.GetMetricsRegistry()]
	_, current := metricSets.byRegistry[second.GetMetricsRegistry()]
	metricSets.Unlock()
	if !current {
		t.Error("the running configuration's metric set is gone")
	}
	// The set of the stopped configuration leaves in a goroutine of its own.
	for deadline := time.Now().Add(5 * time.Second); stillThere && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		metricSets.Lock()
		_, stillThere = metricSets.byRegistry[first.GetMetricsRegistry()]
		metricSets.Unlock()
	}
	if stillThere {
		t.Error("the stopped configuration's metric set is still kept")
	}
}

// TestMetricsRegistrationConflict: a collector of another module under one
// of these names is an error at start, not a panic.
func TestMetricsRegistrationConflict(t *testing.T) {
	ctx, reg := newConfigContext(t)
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "caddy_wechatpay_requests_total", Help: "another module's"}))
	var h Handler
	if err := json.Unmarshal([]byte(handlerJSON(t, "")), &h); err != nil {
		t.Fatal(err)
	}
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), "registering the wechatpay metrics") {
		t.Errorf("a conflicting collector: %v", err)
	}
}

// counterValue reads a counter of the process-wide key_reloads_total.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	lines := scrape(t, reg)
	if len(lines) != 1 {
		t.Fatalf("one counter scraped as %q", lines)
	}
	v, err := strconv.ParseFloat(lines[0][strings.LastIndexByte(lines[0], ' ')+1:], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

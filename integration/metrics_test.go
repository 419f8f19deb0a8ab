package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// metricsURL is where Caddy's admin endpoint serves the metrics of the
// running configuration: always, with no metrics option in the Caddyfile
// (the admin.api.metrics module of Caddy's standard modules).
var metricsURL = fmt.Sprintf("http://localhost:%d/metrics", testPorts.admin)

// scrapeMetrics reads url (the admin endpoint's /metrics, or a route with
// the metrics handler), parses it as
// Prometheus does (expfmt), and returns the module's series as lines,
// sorted: `name{label="value",...} value`. A histogram appears as its
// _count (durations are not asserted). The series of the whole process,
// which earlier tests change too, are returned apart in process, by their
// name without caddy_wechatpay_ and, for key_reloads_total, its outcome
// ("key_reloads_total/ok"): the test compares what it did with the values
// before. The raw text is returned as well.
func scrapeMetrics(t *testing.T, url string) (lines []string, process map[string]float64, raw string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	if families["caddy_config_last_reload_successful"] == nil {
		t.Errorf("/metrics has none of Caddy's own series")
	}
	process = map[string]float64{}
	for name, mf := range families {
		if !strings.HasPrefix(name, "caddy_wechatpay_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, p := range m.GetLabel() {
				labels = append(labels, p.GetName()+"="+strconv.Quote(p.GetValue()))
			}
			var value float64
			switch mf.GetType().String() {
			case "COUNTER":
				value = m.GetCounter().GetValue()
			case "GAUGE":
				value = m.GetGauge().GetValue()
			case "HISTOGRAM":
				name := name + "_count"
				lines = append(lines, name+"{"+strings.Join(labels, ",")+"} "+strconv.FormatUint(m.GetHistogram().GetSampleCount(), 10))
				continue
			default:
				t.Fatalf("%s is a %s", name, mf.GetType())
			}
			switch name {
			case "caddy_wechatpay_key_reloads_total":
				process["key_reloads_total/"+m.GetLabel()[0].GetValue()] = value
				continue
			case "caddy_wechatpay_replay_window_entries", "caddy_wechatpay_replay_window_max_entries":
				process[strings.TrimPrefix(name, "caddy_wechatpay_")] = value
				continue
			case "caddy_wechatpay_replay_window_checks_total":
				process["replay_window_checks_total/"+m.GetLabel()[0].GetValue()] = value
				continue
			}
			lines = append(lines, name+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(value, 'f', -1, 64))
		}
	}
	slices.Sort(lines)
	return lines, process, string(body)
}

// assertSeries compares the scraped lines with want, exactly.
func assertSeries(t *testing.T, got, want []string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		var missing, extra []string
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				extra = append(extra, g)
			}
		}
		t.Errorf("series differ\nmissing:\n\t%s\nunexpected:\n\t%s", strings.Join(missing, "\n\t"), strings.Join(extra, "\n\t"))
	}
}

// verifyFailureSeries are the six verification codes of a merchant at 0,
// but for the counts given.
func verifyFailureSeries(merchant string, counts map[string]int) []string {
	var out []string
	for _, code := range []string{"SIGNATURE_MISSING", "SIGNATURE_PROBE", "SERIAL_UNKNOWN", "TIMESTAMP_INVALID", "TIMESTAMP_EXPIRED", "SIGNATURE_INVALID",
		"SIGNATURE_REPLAYED", "REPLAY_WINDOW_FULL"} {
		out = append(out, fmt.Sprintf(`caddy_wechatpay_response_verification_failures_total{code="%s",merchant="%s"} %d`, code, merchant, counts[code]))
	}
	return out
}

// startedAtZero are the series an alert watches that a handler starts at
// 0: WeChat Pay's SIGN_ERROR and other refusals of a wechatpay handler's
// merchant, and the refusal codes of a callback route's.
func startedAtZero(handlerMerchants []string, notifyMerchants []string) []string {
	var out []string
	for _, m := range handlerMerchants {
		for _, s := range []string{`class="4xx",code="SIGN_ERROR"`, `class="4xx",code="other"`, `class="5xx",code="other"`} {
			out = append(out, `caddy_wechatpay_upstream_refusals_total{`+s+`,merchant="`+m+`"} 0`)
		}
	}
	for _, m := range notifyMerchants {
		for _, code := range []string{"SIGNATURE_MISSING", "SIGNATURE_PROBE", "SERIAL_UNKNOWN", "TIMESTAMP_INVALID", "TIMESTAMP_EXPIRED",
			"SIGNATURE_INVALID", "SIGNATURE_REPLAYED", "REPLAY_WINDOW_FULL", "RESOURCE_DECRYPT_FAILED"} {
			out = append(out, `caddy_wechatpay_callbacks_total{event_type="",merchant="`+m+`",outcome="`+code+`"} 0`)
		}
	}
	return out
}

// TestIntegrationMetrics runs a real Caddy with a merchant of the app that
// downloads its platform certificates ("school"), one with a configured
// certificate ("canteen"), a wechatpay handler with keys of its own, and a
// wechatpay_notify route; drives a scripted mix through them (a verified
// presign for each, a refusal, a forged answer, a callback delivered and
// its resend); and reads the admin endpoint's /metrics, checking every
// series of the module, labels and values, exactly, and the same from a
// route with the metrics handler. It then loads a
// configuration without canteen and the notify route: the series are
// there again, counting from zero, and canteen's certificate is gone.
func TestIntegrationMetrics(t *testing.T) {
	c := testkit.Creds()
	school := testkit.NewCertSandbox(t, nil)
	stub := testkit.NewStub(t)
	app := newStandInApp(t)

	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	key := testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey))
	merchantCert := testkit.MerchantCertificate(c)
	certFile := testkit.WriteFile(t, dir, "apiclient_cert.pem", testkit.CertPEM(merchantCert))
	pub := testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey))
	apiv3 := testkit.WriteFile(t, dir, "apiv3_key.txt", testkit.CertAPIv3Key)
	canteenCert := testkit.SelfSigned(testkit.NewKey(), "AAAA0000000000000000000000000000000000A1", time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	canteenCertFile := testkit.WriteFile(t, dir, "canteen_platform.pem", testkit.CertPEM(canteenCert))
	t.Setenv("TEST_METRICS_APIV3_KEY", testkit.APIv3Key)

	config := func(withCanteen bool) string {
		canteen, notify := "", ""
		if withCanteen {
			canteen = `
		merchant canteen {
			mchid                1900000002
			serial_no            ` + c.SerialNo + `
			private_key          ` + key + `
			platform_certificate ` + canteenCertFile + `
		}`
			notify = `
	handle /wechatpay/notify {
		wechatpay_notify {
			apiv3_key     {env.TEST_METRICS_APIV3_KEY}
			public_key_id ` + c.PublicKeyID + `
			public_key    ` + pub + `
		}
		reverse_proxy ` + strings.TrimPrefix(app.URL, "http://") + `
	}`
		}
		return "{\n" + testGlobals("1ns", "storage file_system "+storage) + `	wechatpay {
		merchant school {
			mchid                ` + c.MchID + `
			serial_no            ` + c.SerialNo + `
			private_key          ` + key + `
			merchant_certificate ` + certFile + `
			apiv3_key            {file.` + apiv3 + `}
			certificates_url     ` + school.TS.URL + `
		}` + canteen + `
	}
}
` + proxyURL + ` {
	bind 127.0.0.1` + notify + `
	handle /metrics {
		metrics
	}
	@school header X-Merchant school
	handle @school {
		wechatpay {
			merchant school
		}
		reverse_proxy ` + strings.TrimPrefix(school.TS.URL, "http://") + `
	}
	handle {
		wechatpay {
			mchid         ` + c.MchID + `
			serial_no     ` + c.SerialNo + `
			private_key   ` + key + `
			public_key_id ` + c.PublicKeyID + `
			public_key    ` + pub + `
		}
		reverse_proxy ` + strings.TrimPrefix(stub.URL, "http://") + `
	}
}
`
	}
	tester := newTester(t)
	loadCaddyfile(t, tester, config(true))

	// The scripted mix.
	presign := func(header ...string) {
		t.Helper()
		resp, body := send(t, tester, "POST", sandbox.PresignPath, []byte(testkit.PresignBody), append([]string{"Content-Type", "application/json"}, header...)...)
		if resp.StatusCode != 200 {
			t.Fatalf("presign %v: %d %s", header, resp.StatusCode, body)
		}
	}
	presign()
	presign("X-Merchant", "school")
	if resp, body := send(t, tester, "POST", sandbox.PresignPath, []byte(`{"identity":{"real_name":42}}`), "Content-Type", "application/json"); resp.StatusCode != 400 {
		t.Fatalf("a malformed body: %d %s", resp.StatusCode, body)
	}
	stub.SetResponse(testkit.StubResponse{SignKey: c.PlatformKey}) // a forged answer
	if resp, body := send(t, tester, "GET", "/v3/pay/transactions/out-trade-no/ORDER-5678?mchid="+c.MchID, nil); resp.StatusCode != 502 {
		t.Fatalf("a forged answer: %d %s", resp.StatusCode, body)
	}
	stub.Reset()
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	for i, cb := range []testkit.Callback{cb, testkit.BuildCallback(t, testkit.CallbackSpec{ID: cb.ID})} {
		if resp, out := sendCallback(t, tester, "/wechatpay/notify", cb); resp.StatusCode != 204 {
			t.Fatalf("callback %d: %d %s", i, resp.StatusCode, out)
		}
	}
	if n := len(app.calls()); n != 1 {
		t.Fatalf("the app got %d callbacks, want 1 (the resend is a duplicate)", n)
	}

	stored := storedCheckedAt(t, storage, c.MchID)
	schoolState := []string{
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="failed"} 0`,
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="not_found"} 0`,
		`caddy_wechatpay_certificate_last_success_timestamp_seconds{merchant="school"} ` + stored,
		fmt.Sprintf(`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{merchant="school",serial="%s"} %d`, c.PlatformSerial, c.PlatformCert.NotAfter.Unix()),
		fmt.Sprintf(`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{merchant="school",serial="%s"} %d`, c.SerialNo, merchantCert.NotAfter.Unix()),
	}
	inline := `merchant="` + c.MchID + `"`
	want := append(append(append(slices.Clone(schoolState),
		verifyFailureSeries(c.MchID, map[string]int{"SIGNATURE_INVALID": 1})...),
		verifyFailureSeries("school", nil)...),
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="ok"} 1`,
		fmt.Sprintf(`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{merchant="canteen",serial="%s"} %d`, "AAAA0000000000000000000000000000000000A1", canteenCert.NotAfter.Unix()),
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",`+inline+`,method="POST",outcome="verified"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",`+inline+`,method="POST",outcome="PARAM_ERROR"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/pay/transactions/out-trade-no/{out_trade_no}",`+inline+`,method="GET",outcome="SIGNATURE_INVALID"} 1`,
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",merchant="school",method="POST",outcome="verified"} 1`,
		fmt.Sprintf(`caddy_wechatpay_encrypted_fields_total{%s} %d`, inline, len(testkit.PresignPlain)),
		fmt.Sprintf(`caddy_wechatpay_encrypted_fields_total{merchant="school"} %d`, len(testkit.PresignPlain)),
		`caddy_wechatpay_request_duration_seconds_count{`+inline+`,stage="module"} 3`,
		`caddy_wechatpay_request_duration_seconds_count{`+inline+`,stage="upstream"} 2`,
		`caddy_wechatpay_request_duration_seconds_count{merchant="school",stage="module"} 1`,
		`caddy_wechatpay_request_duration_seconds_count{merchant="school",stage="upstream"} 1`,
		`caddy_wechatpay_callbacks_total{event_type="TRANSACTION.SUCCESS",merchant="`+c.PublicKeyID+`",outcome="delivered"} 1`,
		`caddy_wechatpay_callbacks_total{event_type="TRANSACTION.SUCCESS",merchant="`+c.PublicKeyID+`",outcome="duplicate"} 1`,
	)
	want = append(want, startedAtZero([]string{c.MchID, "school"}, []string{c.PublicKeyID})...)
	got, reloads, raw := scrapeMetrics(t, metricsURL)
	assertSeries(t, got, want)
	for _, leak := range []string{"ORDER-5678", "mchid=", "/wechatpay/notify", cb.ID, "presign_token", "BEGIN", testkit.APIv3Key, testkit.CertAPIv3Key} {
		for _, line := range strings.Split(raw, "\n") {
			if strings.HasPrefix(line, "caddy_wechatpay_") && strings.Contains(line, leak) {
				t.Errorf("a series holds %q: %s", leak, line)
			}
		}
	}
	if _, ok := reloads["key_reloads_total/ok"]; !ok || len(reloads) != 4+5 {
		t.Errorf("process-wide series: %v, want key_reloads_total's ok and failed, the replay window's two gauges and its five verdicts", reloads)
	}
	// The verified answers and callbacks of the mix are in the process's
	// replay window (with those of earlier tests still inside it).
	if reloads["replay_window_entries"] < 3 || reloads["replay_window_max_entries"] != 600_000 {
		t.Errorf("replay window: %v entries of %v, want at least the mix's 3 of 600000",
			reloads["replay_window_entries"], reloads["replay_window_max_entries"])
	}
	// The metrics handler serves the same series.
	fromHandler, handlerReloads, _ := scrapeMetrics(t, proxyURL+"/metrics")
	assertSeries(t, fromHandler, want)
	if handlerReloads["key_reloads_total/ok"] != reloads["key_reloads_total/ok"] ||
		handlerReloads["key_reloads_total/failed"] != reloads["key_reloads_total/failed"] {
		t.Errorf("key_reloads_total from the metrics handler: %v, from the admin endpoint: %v", handlerReloads, reloads)
	}

	// A key reload changes no registration and is counted once.
	if code, _, body := adminCall(t, http.MethodPost, "/wechatpay/keys/reload"); code != 200 {
		t.Fatalf("key reload: %d %s", code, body)
	}
	after, reloadsAfter, _ := scrapeMetrics(t, metricsURL)
	assertSeries(t, after, want)
	if reloadsAfter["key_reloads_total/ok"] != reloads["key_reloads_total/ok"]+1 ||
		reloadsAfter["key_reloads_total/failed"] != reloads["key_reloads_total/failed"] {
		t.Errorf("key_reloads_total went from %v to %v after one reload", reloads, reloadsAfter)
	}

	// A configuration reload without canteen and the notify route: the
	// series are registered again (no panic, no error), counting from
	// zero; school's state is read again (its stored certificates are
	// fresh, so no download: its last success is the stored one);
	// canteen's certificate is gone.
	loadCaddyfile(t, tester, config(false))
	presign()
	got, _, _ = scrapeMetrics(t, metricsURL)
	assertSeries(t, got, append(append(append(append(slices.Clone(schoolState),
		verifyFailureSeries(c.MchID, nil)...),
		verifyFailureSeries("school", nil)...),
		`caddy_wechatpay_certificate_downloads_total{merchant="school",outcome="ok"} 0`,
		`caddy_wechatpay_requests_total{endpoint="/v3/eduschoolpay/contracts/presign",`+inline+`,method="POST",outcome="verified"} 1`,
		fmt.Sprintf(`caddy_wechatpay_encrypted_fields_total{%s} %d`, inline, len(testkit.PresignPlain)),
		`caddy_wechatpay_encrypted_fields_total{merchant="school"} 0`,
		`caddy_wechatpay_request_duration_seconds_count{`+inline+`,stage="module"} 1`,
		`caddy_wechatpay_request_duration_seconds_count{`+inline+`,stage="upstream"} 1`,
		`caddy_wechatpay_request_duration_seconds_count{merchant="school",stage="module"} 0`,
		`caddy_wechatpay_request_duration_seconds_count{merchant="school",stage="upstream"} 0`,
	), startedAtZero([]string{c.MchID, "school"}, nil)...))
	if n := school.Downloads.Load(); n != 1 {
		t.Errorf("%d certificate downloads, want the one at the first start", n)
	}
}

// storedCheckedAt returns when WeChat Pay last answered the merchant's
// certificate download, as its stored certificates record it, in the
// gauge's form (seconds since the epoch).
func storedCheckedAt(t *testing.T, storage, mchid string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(storage, "wechatpay", mchid, "platform_certificates.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		CheckedAt time.Time `json:"checked_at"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatFloat(float64(doc.CheckedAt.UnixNano())/1e9, 'f', -1, 64)
}

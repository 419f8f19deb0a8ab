package wechatpay

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// alertsFile is the alerting rules the documentation offers.
const alertsFile = "docs/prometheus-alerts.yml"

// alertRules are the rules of alertsFile.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadAlertRules(t *testing.T) alertRules {
	t.Helper()
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return rules
}

// exportedMetricNames returns the name of every series family the module
// exports, from its collectors' own descriptions, with a histogram's
// _bucket, _sum and _count.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	nameRE := regexp.MustCompile(`fqName: "([^"]+)"`)
	ch := make(chan *prometheus.Desc, 100)
	for _, c := range newMetricSet().collectors() {
		c.Describe(ch)
	}
	close(ch)
	for d := range ch {
		m := nameRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
		if m[1] == "caddy_wechatpay_request_duration_seconds" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+suffix] = true
			}
		}
	}
	if len(names) != 13+3 {
		t.Fatalf("the module exports %d names; the test expects 13 series families (and a histogram's 3): %v", len(names), names)
	}
	return names
}

// TestAlertRulesUseExportedMetrics: every metric the alerting rules read is
// one the module exports, every rule reads at least one, and each says how
// bad it is and what to do.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	exported := exportedMetricNames(t)
	rules := loadAlertRules(t)
	metricRE := regexp.MustCompile(`\bcaddy_wechatpay_[a-z_]+`)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			used := metricRE.FindAllString(r.Expr, -1)
			if len(used) == 0 {
				t.Errorf("%s reads no caddy_wechatpay_ metric: %s", r.Alert, r.Expr)
			}
			for _, name := range used {
				if !exported[name] {
					t.Errorf("%s reads %s, which the module does not export", r.Alert, name)
				}
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: a summary and a description are needed", r.Alert)
			}
		}
	}
	for _, want := range []string{"WeChatPayAnswersFailVerification", "WeChatPayPlatformCertificateExpiresSoon",
		"WeChatPayMerchantCertificateExpiresSoon", "WeChatPayCertificateDownloadsFailing", "WeChatPayUpstreamErrors",
		"WeChatPayCallbacksFailingAtApp", "WeChatPayReplayWindowNearlyFull"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no %s alert", want)
		}
	}
}

// alertCases are, for each alert, series that must make its expression
// fire (and others that must not), and the samples it must return: a test
// of each expression as written in the rules file, by `promtool test rules`.
var alertCases = map[string]struct {
	series   map[string]string // series -> values, one a minute from 0
	evalTime string
	samples  map[string]float64 // labels -> value
}{
	"WeChatPayAnswersFailVerification": {
		series: map[string]string{
			`caddy_wechatpay_response_verification_failures_total{instance="a",merchant="school",code="SIGNATURE_INVALID"}`: "0x15 1x5",
			`caddy_wechatpay_response_verification_failures_total{instance="a",merchant="school",code="SERIAL_UNKNOWN"}`:    "0x20",
		},
		evalTime: "20m",
		samples:  map[string]float64{`{instance="a",merchant="school",code="SIGNATURE_INVALID"}`: 1},
	},
	"WeChatPayPlatformCertificateExpiresSoon": {
		series: map[string]string{
			// At 10m (time() = 600): school's newest certificate
			// expires in 3 days less 10 minutes; canteen's in 30 days.
			`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{instance="a",merchant="school",serial="A"}`:  "259200x10",
			`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{instance="a",merchant="school",serial="B"}`:  "86400x10",
			`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{instance="a",merchant="canteen",serial="C"}`: "2592000x10",
			`caddy_wechatpay_platform_certificate_expiry_timestamp_seconds{instance="a",merchant="canteen",serial="D"}`: "86400x10",
		},
		evalTime: "10m",
		samples:  map[string]float64{`{instance="a",merchant="school"}`: 258600},
	},
	"WeChatPayMerchantCertificateExpiresSoon": {
		series: map[string]string{
			`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{instance="a",merchant="school",serial="M1"}`:  "86400x10",
			`caddy_wechatpay_merchant_certificate_expiry_timestamp_seconds{instance="a",merchant="canteen",serial="M2"}`: "31536000x10",
		},
		evalTime: "10m",
		samples:  map[string]float64{`{instance="a",merchant="school",serial="M1"}`: 85800},
	},
	"WeChatPayCertificateDownloadsFailing": {
		series: map[string]string{
			// At 25h (time() = 90000): school never succeeded (0),
			// canteen did 5 hours ago.
			`caddy_wechatpay_certificate_last_success_timestamp_seconds{instance="a",merchant="school"}`:  "0x1500",
			`caddy_wechatpay_certificate_last_success_timestamp_seconds{instance="a",merchant="canteen"}`: "72000x1500",
		},
		evalTime: "25h",
		samples:  map[string]float64{`{instance="a",merchant="school"}`: 90000},
	},
	"WeChatPayUpstreamErrors": {
		series: map[string]string{
			// school: 3 verified and 1 UPSTREAM_UNREACHABLE a second;
			// canteen: verified only.
			`caddy_wechatpay_requests_total{instance="a",merchant="school",method="POST",endpoint="/v3/pay/transactions/jsapi",outcome="verified"}`:             "0+180x10",
			`caddy_wechatpay_requests_total{instance="a",merchant="school",method="POST",endpoint="/v3/pay/transactions/jsapi",outcome="UPSTREAM_UNREACHABLE"}`: "0+60x10",
			`caddy_wechatpay_requests_total{instance="a",merchant="canteen",method="POST",endpoint="/v3/pay/transactions/jsapi",outcome="verified"}`:            "0+180x10",
		},
		evalTime: "10m",
		samples:  map[string]float64{`{instance="a",merchant="school"}`: 0.25},
	},
	"WeChatPayCallbacksFailingAtApp": {
		series: map[string]string{
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="TRANSACTION.SUCCESS",outcome="app_failed"}`: "0x10 1 2 3x8",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="TRANSACTION.SUCCESS",outcome="delivered"}`:  "0+5x20",
			// canteen's first app_failed is a series that appears at 1:
			// increase() cannot see it, the second half does.
			`caddy_wechatpay_callbacks_total{instance="a",merchant="canteen",event_type="REFUND.SUCCESS",outcome="app_failed"}`: "_x18 1x2",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="canteen",event_type="REFUND.SUCCESS",outcome="delivered"}`:  "0+5x20",
		},
		evalTime: "20m",
		samples:  map[string]float64{`{instance="a",merchant="school"}`: 3, `{instance="a",merchant="canteen"}`: 1},
	},
	"WeChatPayRefusesSignatures": {
		series: map[string]string{
			`caddy_wechatpay_upstream_refusals_total{instance="a",merchant="school",class="4xx",code="SIGN_ERROR"}`:      "0x15 1x5",
			`caddy_wechatpay_upstream_refusals_total{instance="a",merchant="school",class="4xx",code="ORDER_NOT_EXIST"}`: "0+1x20",
			`caddy_wechatpay_upstream_refusals_total{instance="a",merchant="canteen",class="4xx",code="SIGN_ERROR"}`:     "0x20",
			`caddy_wechatpay_upstream_refusals_total{instance="a",merchant="canteen",class="5xx",code="SYSTEM_ERROR"}`:   "0+1x20",
		},
		evalTime: "20m",
		samples:  map[string]float64{`{instance="a",merchant="school"}`: 1},
	},
	"WeChatPayRefusalsRising": {
		series: map[string]string{
			// Over a day: 10 verified answers a minute, 1 of them refused
			// (10%). Then school's refusals jump to 5 a minute (50%);
			// canteen stays at 10%.
			`caddy_wechatpay_requests_total{instance="a",merchant="school",method="POST",endpoint="/v3/pay/transactions/jsapi",outcome="verified"}`:  "0+10x1500",
			`caddy_wechatpay_upstream_refusals_total{instance="a",merchant="school",class="5xx",code="SYSTEM_ERROR"}`:                                "0+1x1470 1470+5x30",
			`caddy_wechatpay_requests_total{instance="a",merchant="canteen",method="POST",endpoint="/v3/pay/transactions/jsapi",outcome="verified"}`: "0+10x1500",
			`caddy_wechatpay_upstream_refusals_total{instance="a",merchant="canteen",class="4xx",code="ORDER_NOT_EXIST"}`:                            "0+1x1500",
		},
		evalTime: "1500m",
		samples:  map[string]float64{`{instance="a",merchant="school"}`: 0.5},
	},
	"WeChatPayCallbacksRefused": {
		series: map[string]string{
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="",outcome="RESOURCE_DECRYPT_FAILED"}`:               "0x10 1 2 3x8",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="TRANSACTION.SUCCESS",outcome="duplicate"}`:          "0+5x20",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="TRANSACTION.SUCCESS",outcome="app_failed"}`:         "0+5x20",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="",outcome="REQUEST_BODY_TOO_LARGE"}`:                "0+5x20",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="school",event_type="REFUND.SUCCESS",outcome="delivered"}`:               "0+5x20",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="canteen",event_type="",outcome="SIGNATURE_INVALID"}`:                    "0x20",
			`caddy_wechatpay_callbacks_total{instance="a",merchant="canteen",event_type="TRANSACTION.SUCCESS",outcome="SIGNATURE_INVALID"}`: "0x20",
		},
		evalTime: "20m",
		samples:  map[string]float64{`{instance="a",merchant="school",outcome="RESOURCE_DECRYPT_FAILED"}`: 3},
	},
	"WeChatPayReplayWindowNearlyFull": {
		series: map[string]string{
			// a at 90% of its cap, b at 50%.
			`caddy_wechatpay_replay_window_entries{instance="a"}`:     "1800x20",
			`caddy_wechatpay_replay_window_max_entries{instance="a"}`: "2000x20",
			`caddy_wechatpay_replay_window_entries{instance="b"}`:     "1000x20",
			`caddy_wechatpay_replay_window_max_entries{instance="b"}`: "2000x20",
		},
		evalTime: "10m",
		samples:  map[string]float64{`{instance="a"}`: 0.9},
	},
	"WeChatPayKeyReloadFailed": {
		series: map[string]string{
			`caddy_wechatpay_key_reloads_total{instance="a",outcome="failed"}`: "0x10 1x10",
			`caddy_wechatpay_key_reloads_total{instance="a",outcome="ok"}`:     "0x10 1x10",
		},
		evalTime: "20m",
		samples:  map[string]float64{`{instance="a",outcome="failed"}`: 1},
	},
}

// TestAlertRulesWithPromtool runs `promtool check rules` on the rules file,
// and `promtool test rules` on each alert's expression as the file writes
// it, with series that must make it fire. It skips when promtool is not
// installed (Debian: apt-get install prometheus).
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); the rules are checked by TestAlertRulesUseExportedMetrics only")
	}
	if out, err := exec.Command(promtool, "check", "rules", alertsFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	rulesPath, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	type sample struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
	type exprTest struct {
		Expr     string   `yaml:"expr"`
		EvalTime string   `yaml:"eval_time"`
		Samples  []sample `yaml:"exp_samples"`
	}
	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	type unitTest struct {
		Interval string     `yaml:"interval"`
		Input    []series   `yaml:"input_series"`
		Exprs    []exprTest `yaml:"promql_expr_test"`
	}
	file := struct {
		RuleFiles []string   `yaml:"rule_files"`
		Interval  string     `yaml:"evaluation_interval"`
		Tests     []unitTest `yaml:"tests"`
	}{RuleFiles: []string{rulesPath}, Interval: "1m"}
	seen := map[string]bool{}
	for _, g := range loadAlertRules(t).Groups {
		for _, r := range g.Rules {
			tc, ok := alertCases[r.Alert]
			if !ok {
				t.Errorf("%s has no case here: add one to alertCases", r.Alert)
				continue
			}
			seen[r.Alert] = true
			u := unitTest{Interval: "1m", Exprs: []exprTest{{Expr: r.Expr, EvalTime: tc.evalTime}}}
			for s, v := range tc.series {
				u.Input = append(u.Input, series{s, v})
			}
			for l, v := range tc.samples {
				u.Exprs[0].Samples = append(u.Exprs[0].Samples, sample{l, v})
			}
			file.Tests = append(file.Tests, u)
		}
	}
	for name := range alertCases {
		if !seen[name] {
			t.Errorf("alertCases has %s, which the rules file does not", name)
		}
	}
	raw, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	testFile := filepath.Join(t.TempDir(), "alerts_test.yml")
	if err := os.WriteFile(testFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", testFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, raw)
	}
}

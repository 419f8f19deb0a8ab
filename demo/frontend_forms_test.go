package demo_test

import (
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
)

// TestRunFrontendForms: step 13 signs a coupon plugin form and a payscore
// detail form through the proxy, which the simulated client accepts; with
// the tamper-apiv2-sign fault it refuses the coupon form and the demo fails.
func TestRunFrontendForms(t *testing.T) {
	out, err := runDemo(t, demo.Options{Listen: freeAddr(t), SandboxListen: freeAddr(t)})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	step13 := out[strings.Index(out, "\n13. "):]
	for _, w := range []string{"/wechatpay/sign/send-coupon  (the app holds no APIv2 key)", `"send_coupon_params": [`,
		"✓ sign", "✓ the coupon plugin would send the coupon", "/wechatpay/sign/payscore-detail", `"extra_data": {`,
		"wx.openBusinessView", "✓ the payscore order detail page would open"} {
		if !strings.Contains(step13, w) {
			t.Errorf("step 13 lacks %q:\n%s", w, step13)
		}
	}

	var opts demo.Options
	if err := demo.ApplyFaults(&opts, []string{demo.TamperAPIv2SignFault}); err != nil || !opts.TamperAPIv2Sign || opts.Faults.Any() {
		t.Fatalf("ApplyFaults: %v %+v", err, opts)
	}
	opts.Listen, opts.SandboxListen = freeAddr(t), freeAddr(t)
	out, err = runDemo(t, opts)
	if err == nil || !strings.Contains(err.Error(), "refused the /sandbox/client/send-coupon form") {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	step13 = out[strings.Index(out, "\n13. "):]
	if !strings.Contains(step13, "✗ sign") || !strings.Contains(step13, "SIGN_INVALID") || !strings.Contains(out, "fault "+demo.TamperAPIv2SignFault) {
		t.Errorf("step 13 does not show the refusal:\n%s", step13)
	}
}

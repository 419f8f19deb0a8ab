package demo_test

import (
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestRunBillStep: step 14 downloads yesterday's bill through the proxy,
// which checked it; the demo checks the SHA1 itself too.
func TestRunBillStep(t *testing.T) {
	out, err := runDemo(t, demo.Options{Listen: freeAddr(t), SandboxListen: freeAddr(t)})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	i := strings.Index(out, "\n14. ")
	if i < 0 {
		t.Fatalf("no step 14\n%s", out)
	}
	step := out[i:]
	for _, w := range []string{"yesterday's bill", sandbox.TradeBillPath + "?bill_date=", "✓ 200, verified by the proxy: hash_type SHA1",
		"bytes of gzip, Wechatpay-Proxy-Bill: sha1=bill", "✓ the app's own SHA1 of the bill after gunzip", "交易时间"} {
		if !strings.Contains(step, w) {
			t.Errorf("step 14 lacks %q\n%s", w, step)
		}
	}
	if strings.Contains(step, "✗") || strings.Contains(step, "token=") && !strings.Contains(step, "token=…") {
		t.Errorf("step 14 shows a failure or the download token\n%s", step)
	}
}

// TestRunCorruptBillRefused: with the corrupt-bill fault, the proxy refuses
// the bill and the demo fails at step 14 alone.
func TestRunCorruptBillRefused(t *testing.T) {
	faults, err := demo.ParseFaults([]string{"corrupt-bill"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := runDemo(t, demo.Options{Listen: freeAddr(t), SandboxListen: freeAddr(t), Faults: faults})
	if err == nil || !strings.Contains(err.Error(), "the bill download was refused: 502 BILL_HASH_MISMATCH") {
		t.Fatalf("Run = %v, want the bill refused\n%s", err, out)
	}
	if strings.Contains(err.Error(), "presign") || strings.Contains(err.Error(), "upload") {
		t.Errorf("a fault of the bill failed other steps: %v", err)
	}
	step := out[strings.Index(out, "\n14. "):]
	for _, w := range []string{"✗ 502 BILL_HASH_MISMATCH", "passed no byte of the bill on", "corrupt-bill"} {
		if !strings.Contains(step, w) {
			t.Errorf("step 14 lacks %q\n%s", w, step)
		}
	}
}

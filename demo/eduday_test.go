package demo_test

import (
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestRunEduschoolpayDay: step 12 plays the 校园轻松付 day through the
// proxy against the simulator's state, every WeChat Pay answer signed.
func TestRunEduschoolpayDay(t *testing.T) {
	out, err := runDemo(t, demo.Options{Listen: freeAddr(t), SandboxListen: freeAddr(t)})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	i := strings.Index(out, "\n12. A 校园轻松付 day")
	if i < 0 {
		t.Fatalf("no step 12\n%s", out)
	}
	step := out[i:]
	for _, w := range []string{
		"POST " + sandbox.ContractSignPath, "✓ HTTP 200 (unsigned)  contract_id=",
		"(contract query): GET /v3/eduschoolpay/contracts/", "contract_status=ADD  out_contract_code=20261208DAY001",
		"✓ HTTP 200 (verified by the proxy)  amount.total=888  trade_state=SUCCESS  transaction_id=4200",
		"✓ HTTP 200 (verified by the proxy)  amount.refund=300  status=SUCCESS",
		"✓ HTTP 400 (verified by the proxy)  code=INVALID_REQUEST  message=申请退款金额超过订单可退金额",
		"✓ HTTP 200 (verified by the proxy)  trade_state=REFUND", "✓ the day is done",
	} {
		if !strings.Contains(step, w) {
			t.Errorf("step 12 lacks %q\n%s", w, step)
		}
	}
	if strings.Count(step, "(verified by the proxy)") != 7 {
		t.Errorf("step 12: want 7 answers verified by the proxy\n%s", step)
	}
}

// TestRunEduschoolpayDayFails: forged answers stop the day at its first
// call and fail the demo.
func TestRunEduschoolpayDayFails(t *testing.T) {
	out, err := runDemo(t, demo.Options{Listen: freeAddr(t), SandboxListen: freeAddr(t), Faults: sandbox.Faults{WrongKey: true}})
	if err == nil || !strings.Contains(err.Error(), "the 校园轻松付 day stopped at 预签约 (presign): HTTP 502") {
		t.Fatalf("Run = %v\n%s", err, out)
	}
}

package wechatpay

import (
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
)

// TestOutcomeCodes: the refusal codes are constants (errors.go, the
// verifier's, the callback parser's), each an outcome label of its own,
// listed once; every verification failure code is one of them; FAIL, the
// code of every callback answer, is none.
func TestOutcomeCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, code := range outcomeCodes {
		if seen[code] {
			t.Errorf("outcomeCodes lists %s twice", code)
		}
		seen[code] = true
		if outcomes.Label(code) != code {
			t.Errorf("code %s is labelled %s", code, outcomes.Label(code))
		}
	}
	for _, code := range metriclabels.VerifyCodes {
		if !seen[code] {
			t.Errorf("verification failure %s is not an outcome code", code)
		}
	}
	if outcomes.Label(notifyFail) != metriclabels.Other {
		t.Errorf("%s is an outcome label", notifyFail)
	}
}

func TestOutcomeLabel(t *testing.T) {
	for _, o := range append([]string{metriclabels.Verified, metriclabels.Unverified, metriclabels.Signed, metriclabels.Delivered, metriclabels.Duplicate, metriclabels.AppFailed}, outcomeCodes...) {
		if got := outcomes.Label(o); got != o {
			t.Errorf("%s labelled %s", o, got)
		}
	}
	for _, o := range []string{"", "FAIL", "verified, decrypted", "SIGN_ERROR", "/v3/pay", "param_error"} {
		if got := outcomes.Label(o); got != metriclabels.Other {
			t.Errorf("%q labelled %q, want other", o, got)
		}
	}
}

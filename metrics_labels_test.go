package wechatpay

import (
	"strings"
	"testing"
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
		if outcomeLabel(code) != code {
			t.Errorf("code %s is labelled %s", code, outcomeLabel(code))
		}
	}
	for _, code := range verifyCodes {
		if !seen[code] {
			t.Errorf("verification failure %s is not an outcome code", code)
		}
	}
	if outcomeLabel(notifyFail) != labelOther {
		t.Errorf("%s is an outcome label", notifyFail)
	}
}

func TestOutcomeLabel(t *testing.T) {
	for _, o := range append([]string{outcomeVerified, outcomeUnverified, outcomeSigned, outcomeDelivered, outcomeDuplicate, outcomeAppFailed}, outcomeCodes...) {
		if got := outcomeLabel(o); got != o {
			t.Errorf("%s labelled %s", o, got)
		}
	}
	for _, o := range []string{"", "FAIL", "verified, decrypted", "SIGN_ERROR", "/v3/pay", "param_error"} {
		if got := outcomeLabel(o); got != labelOther {
			t.Errorf("%q labelled %q, want other", o, got)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE",
		"HEAD": "HEAD", "OPTIONS": "OTHER", "get": "OTHER", "BREW": "OTHER", "": "OTHER", "CONNECT": "OTHER"} {
		if got := methodLabel(m); got != want {
			t.Errorf("%q labelled %q, want %q", m, got, want)
		}
	}
}

func TestEventTypeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"TRANSACTION.SUCCESS": "TRANSACTION.SUCCESS", "REFUND.ABNORMAL": "REFUND.ABNORMAL", "": "",
		"MCHTRANSFER.BILL.FINISHED": "MCHTRANSFER.BILL.FINISHED", "transaction.success": "other",
		"TRANSACTION SUCCESS": "other", "支付成功": "other", strings.Repeat("A", 65): "other", strings.Repeat("A", 64): strings.Repeat("A", 64),
	} {
		if got := eventTypeLabel(in); got != want {
			t.Errorf("%q labelled %q, want %q", in, got, want)
		}
	}
}

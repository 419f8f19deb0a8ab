package metriclabels

import (
	"errors"
	"strings"
	"testing"
)

func TestMethodLabel(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE",
		"HEAD": "HEAD", "OPTIONS": "OTHER", "get": "OTHER", "BREW": "OTHER", "": "OTHER", "CONNECT": "OTHER"} {
		if got := Method(m); got != want {
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
		if got := EventType(in); got != want {
			t.Errorf("%q labelled %q, want %q", in, got, want)
		}
	}
}

func TestOutcomesLabel(t *testing.T) {
	o := NewOutcomes("PARAM_ERROR")
	for in, want := range map[string]string{Verified: Verified, AppFailed: AppFailed, "PARAM_ERROR": "PARAM_ERROR", "SIGN_ERROR": Other, "": Other} {
		if got := o.Label(in); got != want {
			t.Errorf("%q labelled %q, want %q", in, got, want)
		}
	}
}

func TestDownload(t *testing.T) {
	if Download(nil, false) != DownloadOK || Download(nil, true) != DownloadNotFound || Download(errors.New("x"), false) != DownloadFailed {
		t.Error("a download's outcome is mislabelled")
	}
}

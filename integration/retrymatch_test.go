package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationRetryMatchOnStatus: the lb_retry_match that
// docs/failover.md warns against, one on the answer's status, makes Caddy
// send a POST that WeChat Pay answered to the other upstream (whole, with
// request_buffers); once its retries are spent, the app must not be told
// "not sent" (a 503 alone once said so: this test saw it).
func TestIntegrationRetryMatchOnStatus(t *testing.T) {
	primary, backup := testkit.NewStub(t), testkit.NewStub(t)
	for _, s := range []*testkit.Stub{primary, backup} {
		s.SetResponse(testkit.StubResponse{Status: 503, Body: `<html>busy</html>`, NoHeaders: true})
	}
	tester := newTester(t)
	loadCaddyfile(t, tester, proxySite{upstream: primary.URL + " " + strings.TrimPrefix(backup.URL, "http://"),
		proxyBlock: "request_buffers 64KiB\n\t\tlb_policy first\n\t\tlb_retries 1\n\t\tlb_retry_match {\n\t\t\texpression `{rp.status_code} == 503`\n\t\t}"}.caddyfile(t))
	resp, out := send(t, tester, "POST", testkit.PresignPath, []byte(testkit.PresignBody), "Content-Type", "application/json")
	reqs := append(primary.Requests(), backup.Requests()...)
	sent := len(reqs)
	for _, r := range reqs {
		if r.SignatureOK != nil || r.Method != "POST" {
			sent = 0 // not the whole signed POST
		}
	}
	if sent != 2 {
		t.Fatalf("the POST reached the stand-ins %d times: this Caddy no longer resends a signed POST on an answer's status, and the warning in docs/failover.md may go", sent)
	}
	var e struct{ Code, Message string }
	if resp.StatusCode != 502 || json.Unmarshal(out, &e) != nil || e.Code != "UPSTREAM_UNREACHABLE" ||
		strings.Contains(e.Message, "not sent") || !strings.Contains(e.Message, "after the request was sent") {
		t.Errorf("%d %s: the app must hear that the request may have arrived", resp.StatusCode, out)
	}
}

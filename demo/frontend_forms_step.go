package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TamperAPIv2SignFault is the demo's own fault: the front end of step 13
// hands the coupon plugin a form whose sign was changed.
const TamperAPIv2SignFault = "tamper-apiv2-sign"

// apiv2KeyLineRE is Caddyfile.example's commented apiv2_key line.
var apiv2KeyLineRE = regexp.MustCompile(`(?m)^(\s*)# apiv2_key \{env\.WECHATPAY_APIV2_KEY\}$`)

// withAPIv2Key turns Caddyfile.example's commented apiv2_key line on, with
// the set's key file as a {file.} placeholder (the key itself is never in
// the configuration nor printed).
func withAPIv2Key(text string, creds *sandbox.Credentials) (string, error) {
	if creds.APIv2Key == "" {
		return text, nil
	}
	if !apiv2KeyLineRE.MatchString(text) {
		return "", fmt.Errorf("the Caddyfile has no `# apiv2_key {env.WECHATPAY_APIV2_KEY}` line to turn on for step 13")
	}
	path, err := filepath.Abs(creds.Path(creds.Files.APIv2Key))
	if err != nil {
		return "", err
	}
	return apiv2KeyLineRE.ReplaceAllLiteralString(text, "\t\tapiv2_key {file."+path+"}"), nil
}

// frontendForms is step 13: the app asks the proxy for a coupon plugin
// form and a payscore detail form, signed with the APIv2 key, and hands
// each to the simulated WeChat client as the front end would.
func (r *run) frontendForms(ctx context.Context, proxyURL string, sim *simulator) {
	r.p.heading(13, "Coupons and payscore: the proxy signs the front-end forms with the APIv2 key")
	coupon := []byte(`{"send_coupon_params":[{"stock_id":"1212","out_request_no":"1900000001202501010001"}]}`)
	obj, ok := r.signForm(ctx, proxyURL, "/wechatpay/sign/send-coupon", coupon)
	if ok {
		r.p.line("  the mini program passes these three as the <send-coupon> attributes, as they are")
		if r.opts.TamperAPIv2Sign {
			obj = bytes.Replace(obj, []byte(`"sign":"`), []byte(`"sign":"0000`), 1)
			r.p.line("(fault %s: the front end hands the plugin a sign changed on the way)", TamperAPIv2SignFault)
		}
		r.clientVerdict(ctx, sim, sandbox.ClientSendCouponPath, obj, "the coupon plugin would send the coupon")
	}
	detail := []byte(`{"service_id":"88888888000011","out_order_no":"1234323JKHDFE1243252"}`)
	obj, ok = r.signForm(ctx, proxyURL, "/wechatpay/sign/payscore-detail", detail)
	if !ok {
		return
	}
	var got struct {
		ExtraData json.RawMessage `json:"extra_data"`
	}
	_ = json.Unmarshal(obj, &got)
	call := []byte(`{"businessType":"wxpayScoreDetail","extraData":` + string(got.ExtraData) + `}`)
	r.p.line("  the mini program calls wx.openBusinessView({businessType: 'wxpayScoreDetail', extraData: extra_data})")
	r.clientVerdict(ctx, sim, sandbox.ClientPayscoreDetailPath, call, "the payscore order detail page would open")
}

// signForm posts a form request to the proxy and shows the answer; ok is
// false (a problem recorded) unless it is 200.
func (r *run) signForm(ctx context.Context, proxyURL, path string, body []byte) ([]byte, bool) {
	r.p.line("POST %s%s  (the app holds no APIv2 key)", proxyURL, path)
	r.p.block(string(body))
	ans, err := post(ctx, proxyURL+path, "application/json", body)
	if err != nil {
		r.problem("%s could not be sent: %v", path, err)
		return nil, false
	}
	r.p.line("What the app got back: HTTP %d", ans.status)
	r.p.block(prettyJSON(ans.body, 400))
	if ans.status != 200 {
		r.problem("%s answered HTTP %d", path, ans.status)
		return nil, false
	}
	return ans.body, true
}

// clientVerdict hands obj to the simulated client at path and shows its
// steps; a refusal is a problem.
func (r *run) clientVerdict(ctx context.Context, sim *simulator, path string, obj []byte, success string) {
	r.p.line("The simulated WeChat client checks it:")
	before := len(sim.exchanges())
	verdict, err := post(ctx, sim.url+path, "application/json", obj)
	if err != nil {
		r.problem("the simulated client could not be reached: %v", err)
		return
	}
	x, ok := r.onlyExchange(sim.exchanges()[before:], "form")
	if ok {
		for _, s := range x.Steps {
			r.p.line("%s %-15s %s", mark(s.OK), s.Name, s.Detail)
		}
	}
	if ok && x.Form != nil && x.Form.Verdict == sandbox.PaymentOK && verdict.status == 200 {
		r.p.line("✓ %s: the app never held the APIv2 key", success)
		return
	}
	r.p.block(prettyJSON(verdict.body, 400))
	r.problem("the simulated WeChat client refused the %s form (HTTP %d)", path, verdict.status)
}

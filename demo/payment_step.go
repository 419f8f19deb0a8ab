package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// demoAppID is the mini program / official account the demo's order is for.
const demoAppID = "wxd678efh567hg6787"

// jsapiPrepayBody is a JSAPI prepay request (JSAPI下单) in plaintext, as the
// app's server sends it; mchid is filled in.
const jsapiPrepayBody = `{
  "appid": "` + demoAppID + `",
  "mchid": "%s",
  "description": "Image形象店-深圳腾大-QQ公仔",
  "out_trade_no": "1217752501201407033233368018",
  "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
  "amount": {"total": 100, "currency": "CNY"},
  "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
}`

// payment is step 10: a JSAPI prepay call in plaintext through the proxy,
// the invocation object its verified response carries (what the app hands
// to the front end for wx.requestPayment), and the simulated WeChat client's
// verdict on it.
func (r *run) payment(ctx context.Context, proxyURL string, sim *simulator, mchid string) {
	r.p.heading(10, "The app takes a JSAPI / mini program payment: the proxy signs the payment sheet invocation")
	body := []byte(fmt.Sprintf(jsapiPrepayBody, mchid))
	r.p.line("POST %s%s  (no Authorization; the app holds no key)", proxyURL, sandbox.JSAPIPrepayPath)
	r.p.block(string(body))
	before := len(sim.exchanges())
	ans, err := post(ctx, proxyURL+sandbox.JSAPIPrepayPath, "application/json", body)
	if err != nil {
		r.p.line("✗ sending failed: %v", err)
		r.problem("the prepay call could not be sent: %v", err)
		return
	}
	x, forwarded := r.onlyExchange(sim.exchanges()[before:], "prepay call")
	r.p.line("What the app got back: HTTP %d", ans.status)
	var got struct {
		PrepayID       string          `json:"prepay_id"`
		RequestPayment json.RawMessage `json:"request_payment"`
	}
	_ = json.Unmarshal(ans.body, &got)
	if ans.status != 200 || got.PrepayID == "" || len(got.RequestPayment) == 0 {
		r.p.block(prettyJSON(ans.body, 400))
		r.p.line("✗ no prepay_id with its signed invocation")
		r.problem("the prepay call got HTTP %d without request_payment", ans.status)
		return
	}
	if forwarded && !bytes.HasPrefix(ans.body, bytes.TrimRight(x.ResponseBody, "}\n\t ")) {
		r.p.line("✗ the response is not WeChat Pay's with one member added")
		r.problem("the prepay response was changed beyond the request_payment member")
	} else {
		r.p.line("✓ WeChat Pay's verified response (prepay_id %s), every byte kept, plus \"request_payment\":", got.PrepayID)
	}
	r.p.block(prettyJSON(got.RequestPayment, 400))
	r.p.line("  the front end passes this object to wx.requestPayment (mini program) or")
	r.p.line("  WeixinJSBridge.invoke('getBrandWCPayRequest', ...) (JSAPI) as it is;")
	r.p.line("  paySign is SHA256withRSA with the merchant key, made by the proxy")

	obj := got.RequestPayment
	if r.opts.TamperPaySign {
		obj = bytes.Replace(obj, []byte(`"paySign":"`), []byte(`"paySign":"AAAA`), 1)
		r.p.line("(fault tamper-paysign: the front end hands the client a paySign changed on the way)")
	}
	r.p.line("The simulated WeChat client checks it before opening the payment sheet:")
	before = len(sim.exchanges())
	verdict, err := post(ctx, sim.url+sandbox.ClientRequestPaymentPath, "application/json", obj)
	if err != nil {
		r.problem("the simulated client could not be reached: %v", err)
		return
	}
	cx, ok := r.onlyExchange(sim.exchanges()[before:], "invocation")
	if ok {
		for _, s := range cx.Steps {
			r.p.line("%s %-15s %s", mark(s.OK), s.Name, s.Detail)
		}
	}
	if ok && cx.Invocation != nil && cx.Invocation.Verdict == sandbox.PaymentOK && verdict.status == 200 {
		r.p.line("✓ the payment sheet would open: the app never held the merchant key")
		return
	}
	r.p.block(prettyJSON(verdict.body, 400))
	r.problem("the simulated WeChat client refused the invocation (HTTP %d)", verdict.status)
}

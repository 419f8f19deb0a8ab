package demo

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// forwarded is step 5: what reached the simulator.
func (r *run) forwarded(xs []sandbox.Exchange) (sandbox.Exchange, bool) {
	r.p.heading(5, `What reached "WeChat Pay" (the simulator)`)
	x, ok := r.onlyExchange(xs, "request")
	if !ok {
		return x, false
	}
	r.p.line("%s %s", x.Method, x.RequestURI)
	scheme, params := authParams(x.Header.Get("Authorization"))
	r.p.line("Authorization: %s  (added by the proxy: the request signature)", scheme)
	for _, k := range []string{"mchid", "serial_no", "nonce_str", "timestamp", "signature"} {
		v := params[k]
		switch k {
		case "signature":
			v = short(v) + "  (SHA256withRSA, merchant private key)"
		case "timestamp":
			if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
				v += "  (" + time.Unix(sec, 0).Format(time.DateTime) + ")"
			}
		}
		r.p.line("  %-10s %s", k, v)
	}
	r.p.line("Wechatpay-Serial: %s  (the key the fields are encrypted for)", x.Header.Get("Wechatpay-Serial"))
	r.p.line("User-Agent: %s", x.Header.Get("User-Agent"))
	r.p.line("Body: the sensitive fields are now RSA-OAEP ciphertext")
	r.p.block(prettyJSON(x.Body, 64))
	if leaked := leaks(x, presignSensitive); len(leaked) > 0 {
		r.p.line("✗ plaintext reached the simulator: %v", leaked)
		r.problem("plaintext of %v reached the simulator", leaked)
	} else {
		r.p.line("✓ none of the %d plaintext values appears in the URI, the headers or the body", len(presignSensitive))
	}
	return x, true
}

// verified is step 6: the simulator's checks and decrypted fields.
func (r *run) verified(x sandbox.Exchange) {
	r.p.heading(6, "What the simulator verified and decrypted")
	for _, s := range x.Steps {
		r.p.line("%s %-36s %s", mark(s.OK), s.Name, s.Detail)
	}
	if s, failed := x.Failed(); failed {
		r.problem("the simulator's check %q failed: %s", s.Name, s.Detail)
	}
	if len(x.Decrypted) > 0 {
		r.p.line("Decrypted values:")
		for _, d := range x.Decrypted {
			r.p.line("  %s = %s", d.Path, d.Value)
		}
	}
	if bad := checkDecrypted(x, presignSensitive); len(bad) > 0 {
		r.problems = append(r.problems, bad...)
		r.p.line("✗ the decrypted values differ from what the app sent")
	} else {
		r.p.line("✓ each decrypted value equals what the app sent")
	}
}

// answer is step 7: what the app got back.
func (r *run) answer(a *appAnswer, x sandbox.Exchange, forwarded bool) {
	r.p.heading(7, "What the app got back")
	r.p.line("HTTP %d", a.status)
	r.checkAnswer(a, x, forwarded, "presign_token", "")
}

// onlyExchange returns the one exchange the simulator recorded for a
// request (the last, reporting a problem, if there were more); false when
// there was none. what names the request: "request", "upload".
func (r *run) onlyExchange(xs []sandbox.Exchange, what string) (sandbox.Exchange, bool) {
	if len(xs) == 0 {
		r.p.line("✗ nothing: the proxy did not forward the %s", what)
		r.problem("no %s reached the simulator", what)
		return sandbox.Exchange{}, false
	}
	if len(xs) > 1 {
		r.problem("%d requests reached the simulator for the %s, expected 1", len(xs), what)
	}
	return xs[len(xs)-1], true
}

// checkAnswer shows the app's answer and checks that it is a 200 answer
// with the string field, and the very answer the simulator signed. call
// names the request in problems: "" for step 4's, " for the upload".
func (r *run) checkAnswer(a *appAnswer, x sandbox.Exchange, forwarded bool, field, call string) {
	r.p.block(prettyJSON(a.body, 400)) // error messages in full
	value := answerString(a, field)
	if value == "" {
		r.p.line("✗ no %s", field)
		r.problem("the app got HTTP %d%s without a %s", a.status, call, field)
		if forwarded && r.opts.Faults.Any() && a.status == http.StatusBadGateway {
			r.p.line("✓ the proxy refused the simulator's faulty answer: the app gets an error, never a forged answer")
		}
		return
	}
	r.p.line("✓ %s received: %s", field, value)
	switch {
	case !forwarded:
		r.p.line("✗ but not from WeChat Pay: the request never reached the simulator")
	case bytes.Equal(x.ResponseBody, a.body):
		r.p.line("✓ the proxy verified the answer's signature before passing it on")
		r.p.line("  (Wechatpay-Serial %s, Wechatpay-Signature %s);",
			x.ResponseHeader.Get("Wechatpay-Serial"), short(x.ResponseHeader.Get("Wechatpay-Signature")))
		r.p.line("  a forged, stale or unsigned answer would have reached the app as HTTP 502 instead")
	default:
		r.p.line("✗ the app's answer is not the one the simulator signed")
		r.problem("the app's answer%s differs from the one the simulator signed", call)
	}
}

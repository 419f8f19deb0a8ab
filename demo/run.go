package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// run is one demo run: the printer and the problems found so far.
type run struct {
	p        printer
	opts     Options
	problems []string
}

func (r *run) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// Run runs the demo and writes its report to out: it loads or generates
// throwaway credentials in opts.Dir, starts the simulator and, in this
// process, Caddy with opts.Caddyfile pointed at it, sends the presign
// request in plaintext as a legacy app would, and shows each hop; then,
// as step 9, it uploads a small PNG through the proxy as multipart/form-data.
//
// It returns an error when anything fails to start, when the simulator
// refused a check, decrypted a value other than the one sent, or saw any
// plaintext sensitive value, when the app did not get a 200 answer with
// a presign_token, when the callback of step 8 (a payment notification
// the simulator sends through a wechatpay_notify route to an app stand-in)
// did not reach the app decrypted and acknowledged exactly once, or when
// the upload of step 9 did not reach the simulator byte for byte with its
// Content-Type, failed one of its checks (the signature over the meta part,
// the meta, the file's SHA-256, extension and size), or did not get the app
// a 200 answer with a media_id, or when the JSAPI prepay call of step 10 got
// no signed invocation or the simulated WeChat client refused it. As step 11
// it prints the module's series in Caddy's metrics registry after these
// requests (it fails when there are none). As step 12 it plays a 校园轻松付
// day through the proxy (presign, the user's signing, contract query, 扣款,
// order query, refunds) and fails when an answer is not the expected one.
// As step 13 it has the proxy sign a coupon plugin form and a payscore
// detail form with the APIv2 key and hands them to the simulated client.
// As step 14 the app downloads yesterday's trade bill through the proxy,
// which checks it against the SHA1 of the verified list answer (it fails
// when the proxy refuses it, as with the corrupt-bill fault). Everything
// it started is stopped before it returns.
//
// Caddy is a per-process singleton: Run replaces and then stops any
// configuration this process's Caddy was running, and must not run
// concurrently with itself. It sets the WECHATPAY_* environment variables
// while Caddy starts and restores them before returning.
func Run(ctx context.Context, out io.Writer, opts Options) error {
	opts.setDefaults()
	if strings.TrimSpace(opts.Caddyfile) == "" {
		return errors.New("demo: no Caddyfile given")
	}
	for _, addr := range []string{opts.Listen, opts.SandboxListen, opts.NotifyListen} {
		if err := CheckLoopback(addr); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	r := &run{p: printer{out}, opts: opts}
	fmt.Fprintln(out, "caddy-wechatpay demo: a legacy app → the proxy (Caddy) → a WeChat Pay simulator, all on this machine.")

	creds, err := r.credentials()
	if err != nil {
		return r.fail(1, "credentials", err)
	}
	sim, err := r.simulator(creds)
	if err != nil {
		return r.fail(2, "simulator", err)
	}
	defer sim.close()
	app, err := startApp()
	if err != nil {
		return r.fail(3, "app stand-in", err)
	}
	defer app.close()
	proxyURL, notifyURL, stop, err := r.proxy(creds, sim.url, app.addr)
	if err != nil {
		return r.fail(3, "proxy", err)
	}
	defer stop()
	ans, err := r.request(ctx, proxyURL)
	if err != nil {
		return r.fail(4, "request", err)
	}
	x, ok := r.forwarded(sim.exchanges())
	if ok {
		r.verified(x)
	}
	r.answer(ans, x, ok)
	r.callback(ctx, creds, notifyURL, app)
	r.upload(ctx, proxyURL, sim)
	r.payment(ctx, proxyURL, sim, creds.MchID)
	r.metrics()
	r.eduDay(ctx, proxyURL, sim.url)
	r.frontendForms(ctx, proxyURL, sim)
	r.bill(ctx, proxyURL)
	return r.summary()
}

// fail reports a step that could not run and returns its error.
func (r *run) fail(step int, name string, err error) error {
	fmt.Fprintf(r.p.w, "\n✗ Step %d failed: %v\n", step, err)
	return fmt.Errorf("demo step %d (%s): %w", step, name, err)
}

// summary prints the outcome and what to do next.
func (r *run) summary() error {
	fmt.Fprintln(r.p.w)
	if len(r.problems) > 0 {
		fmt.Fprintln(r.p.w, "✗ Demo FAILED:")
		for _, pr := range r.problems {
			fmt.Fprintf(r.p.w, "   - %s\n", pr)
		}
		if r.opts.Faults.Any() {
			fmt.Fprintf(r.p.w, "   (the simulator ran with faults: %s)\n", strings.Join(FaultList(r.opts.Faults), ", "))
		}
		if r.opts.TamperPaySign {
			fmt.Fprintf(r.p.w, "   (fault %s: the invocation's paySign was changed on purpose)\n", TamperPaySignFault)
		}
		if r.opts.TamperAPIv2Sign {
			fmt.Fprintf(r.p.w, "   (fault %s: the coupon form's sign was changed on purpose)\n", TamperAPIv2SignFault)
		}
		return fmt.Errorf("demo failed: %s", strings.Join(r.problems, "; "))
	}
	fmt.Fprintln(r.p.w, "✓ Demo passed: the app sent plaintext; WeChat Pay received ciphertext with a valid signature; the app got a verified answer;")
	fmt.Fprintln(r.p.w, "  WeChat Pay's callback reached the app verified and decrypted, once; an image upload went through")
	fmt.Fprintln(r.p.w, "  byte for byte, signed over its meta part, and the app got a verified media_id; a JSAPI prepay")
	fmt.Fprintln(r.p.w, "  response carried the payment sheet invocation, signed by the proxy, which the WeChat client accepted;")
	fmt.Fprintln(r.p.w, "  a 校园轻松付 day (presign, signing, contract, 扣款, order, refund) went through the proxy, every answer verified;")
	fmt.Fprintln(r.p.w, "  a coupon plugin form and a payscore detail page, signed with the APIv2 key by the proxy, were accepted;")
	fmt.Fprintln(r.p.w, "  and yesterday's bill reached the app only after its SHA1 matched the one WeChat Pay signed.")
	fmt.Fprintln(r.p.w, `
Next:
   - Real credentials: export WECHATPAY_MCHID, WECHATPAY_SERIAL_NO, WECHATPAY_PRIVATE_KEY,
     WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY for your merchant account, then
     ./caddy wechatpay check --config Caddyfile.example   (does WeChat Pay accept these keys? one read-only call)
     ./caddy run --config Caddyfile.example   (and point your app at http://127.0.0.1:9180)
   - Your own app, no real keys: run ./caddy wechatpay sandbox, set the variables it prints,
     use reverse_proxy http://127.0.0.1:9181 in your Caddyfile, and send your app's calls to the proxy.
   - Your own callback route (wechatpay_notify): ./caddy wechatpay notify http://<host:port>/<path>
     sends it a signed, encrypted payment notification made with these throwaway keys.`)
	return nil
}

// FaultList names the faults that are on, as ParseFaults spells them.
func FaultList(f sandbox.Faults) []string {
	var on []string
	for _, name := range FaultNames() {
		g := f
		faultNames[name](&g)
		if g == f {
			on = append(on, name)
		}
	}
	return on
}

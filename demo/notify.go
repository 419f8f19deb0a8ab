package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// NotifyPath is the path of the demo's callback route.
const NotifyPath = "/wechatpay/notify"

// DefaultNotifyListen is the address of the demo's callback site: a free
// loopback port.
const DefaultNotifyListen = "127.0.0.1:0"

// notifySite returns the Caddyfile site that receives WeChat Pay's
// callbacks for the app at appAddr: the wechatpay_notify handler with the
// set's keys (from the same {env.WECHATPAY_PUBLIC_KEY*} variables as the
// proxy, and the APIv3 key from its file), then reverse_proxy to the app.
func notifySite(listen, apiv3KeyPath, appAddr string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	return `
# Added by the demo: the route that receives WeChat Pay's callbacks for the app.
:` + port + ` {
	bind ` + host + `
	handle ` + NotifyPath + ` {
		wechatpay_notify {
			apiv3_key     ` + strconv.Quote("{file."+apiv3KeyPath+"}") + `
			public_key_id {env.WECHATPAY_PUBLIC_KEY_ID}
			public_key    {env.WECHATPAY_PUBLIC_KEY}
		}
		reverse_proxy ` + appAddr + `
	}
}
`, nil
}

// standInApp is the demo's app: it records the callbacks it receives and
// acknowledges them with 200, as a merchant's app does.
type standInApp struct {
	addr string
	srv  *http.Server

	mu    sync.Mutex
	calls []appCallback
}

// appCallback is one callback as the app received it.
type appCallback struct {
	header http.Header
	body   []byte
}

func startApp() (*standInApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &standInApp{addr: ln.Addr().String()}
	a.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		a.mu.Lock()
		a.calls = append(a.calls, appCallback{header: r.Header.Clone(), body: body})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"code":"SUCCESS","message":"成功"}`))
	})}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *standInApp) received() []appCallback {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appCallback(nil), a.calls...)
}

func (a *standInApp) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
	}
}

// callback is step 8: the simulator sends a payment notification through
// the wechatpay_notify route to the app.
func (r *run) callback(ctx context.Context, creds *sandbox.Credentials, notifyURL string, app *standInApp) {
	r.p.heading(8, "WeChat Pay calls back: a payment notification through wechatpay_notify")
	now := time.Now()
	n, err := sandbox.SampleNotification(sandbox.EventTransactionSuccess, creds.MchID, now)
	if err != nil {
		r.problem("building the notification: %v", err)
		return
	}
	sn, err := creds.SignNotification(n, now, sandbox.Faults{})
	if err != nil {
		r.problem("signing the notification: %v", err)
		return
	}
	r.p.line("The simulator, as WeChat Pay, POSTs to %s:", notifyURL)
	printSent(r.p, sn)
	res, err := sandbox.SendNotification(ctx, nil, notifyURL, sn)
	if err != nil {
		r.p.line("✗ sending failed: %v", err)
		r.problem("the callback could not be sent: %v", err)
		return
	}

	calls := app.received()
	r.p.line("What the app received (verified by the proxy, resource decrypted with the APIv3 key):")
	if len(calls) != 1 {
		r.p.line("✗ %d requests reached the app, expected 1", len(calls))
		r.problem("%d callbacks reached the app, expected 1", len(calls))
	}
	if len(calls) > 0 {
		got := calls[0]
		for _, k := range []string{"Content-Type", "Content-Length", "Wechatpay-Notification-Id", "Wechatpay-Event-Type"} {
			r.p.line("  %s: %s", k, got.header.Get(k))
		}
		r.p.block(prettyJSON(got.body, 80))
		r.checkForwarded(got, n)
	}
	r.p.line("What WeChat Pay got back: HTTP %d", res.Status)
	if res.Status != http.StatusNoContent {
		r.p.block(prettyJSON(res.Body, 400))
		r.problem("WeChat Pay got HTTP %d for the callback, expected 204", res.Status)
	} else {
		r.p.line("✓ the app acknowledged, so WeChat Pay gets 204 and stops sending this notification")
	}

	// WeChat Pay resends a notification until it is acknowledged, and
	// sometimes after: the same id again must not reach the app twice.
	if again, err := creds.SignNotification(n, time.Now(), sandbox.Faults{}); err == nil {
		res, err := sandbox.SendNotification(ctx, nil, notifyURL, again)
		switch {
		case err != nil:
			r.problem("resending the callback: %v", err)
		case res.Status == http.StatusNoContent && len(app.received()) == len(calls):
			r.p.line("✓ the same notification sent again: HTTP 204, and the app was not called again (id %s is recorded)", n.ID)
		default:
			r.p.line("✗ the same notification sent again: HTTP %d, the app got %d calls", res.Status, len(app.received()))
			r.problem("a resent notification reached the app again (or was not acknowledged)")
		}
	}
	// A forged callback: WeChat Pay's probe signature.
	if forged, err := creds.SignNotification(n, time.Now(), sandbox.Faults{ProbeSignature: true}); err == nil {
		before := len(app.received())
		res, err := sandbox.SendNotification(ctx, nil, notifyURL, forged)
		switch {
		case err != nil:
			r.problem("sending the forged callback: %v", err)
		case res.Status >= 400 && len(app.received()) == before:
			r.p.line("✓ a forged callback (probe signature) got HTTP %d %s and never reached the app", res.Status, res.Body)
		default:
			r.p.line("✗ a forged callback got HTTP %d", res.Status)
			r.problem("a forged callback was not refused")
		}
	}
}

// checkForwarded compares what the app received with what was encrypted.
func (r *run) checkForwarded(got appCallback, n sandbox.Notification) {
	var env struct {
		ID       string          `json:"id"`
		Resource json.RawMessage `json:"resource"`
	}
	var want, have any
	switch {
	case json.Unmarshal(got.body, &env) != nil:
		r.problem("the app received a body that is not JSON")
	case env.ID != n.ID:
		r.problem("the app received id %q, the simulator sent %q", env.ID, n.ID)
	case json.Unmarshal(n.Resource, &want) != nil || json.Unmarshal(env.Resource, &have) != nil || !reflect.DeepEqual(want, have):
		r.problem("the resource the app received differs from what the simulator encrypted")
	case got.header.Get("Content-Length") != strconv.Itoa(len(got.body)):
		r.problem("Content-Length %s for %d bytes", got.header.Get("Content-Length"), len(got.body))
	case got.header.Get("Wechatpay-Signature") != "":
		r.problem("the app received WeChat Pay's signature headers")
	default:
		r.p.line("✓ the resource equals what the simulator encrypted; Content-Length is right; no signature headers")
		return
	}
	r.p.line("✗ the app did not receive what the simulator sent")
}

// printSent shows a signed callback, ciphertext and signature shortened.
func printSent(p printer, sn *sandbox.SignedNotification) {
	for _, k := range []string{"Wechatpay-Serial", "Wechatpay-Signature-Type", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Request-ID"} {
		if v := sn.Header.Get(k); v != "" {
			p.line("  %s: %s", k, short(v))
		}
	}
	p.block(prettyJSON(sn.Body, 64))
}

// NotifyOptions configures SendNotify.
type NotifyOptions struct {
	// URL is the callback route to test, e.g.
	// http://127.0.0.1:9443/wechatpay/notify. Required.
	URL string
	// Dir holds the throwaway credentials (generated there when it has
	// none). Default DefaultDir.
	Dir string
	// Event is the sample event, one of sandbox.NotificationEvents.
	// Default TRANSACTION.SUCCESS.
	Event string
	// ResourceFile, when set, names a file holding the JSON object sent as
	// the resource instead of the sample's.
	ResourceFile string
	// Faults make the callback's signature misbehave (wrong key, stale,
	// unknown serial, probe, none), to see the route refuse it.
	Faults sandbox.Faults
	// ID, when set, is the notification id sent: give the id of an
	// earlier send to resend it, as WeChat Pay does (a fresh signature,
	// the same id), and see the route's deduplication.
	ID string
}

// SendNotify sends one signed, encrypted callback to a notify route with
// the sandbox's throwaway keys, as WeChat Pay would, and reports what was
// sent and answered. It returns an error when the route did not
// acknowledge it (WeChat Pay would send it again) or, with faults, when it
// acknowledged a forged callback.
func SendNotify(ctx context.Context, out io.Writer, o NotifyOptions) error {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Event == "" {
		o.Event = sandbox.EventTransactionSuccess
	}
	if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return fmt.Errorf("notify: %q is not an http:// or https:// URL", o.URL)
	}
	creds, err := sandbox.LoadOrGenerateCredentials(o.Dir, "")
	if err != nil {
		return err
	}
	now := time.Now()
	n, err := sandbox.SampleNotification(o.Event, creds.MchID, now)
	if err != nil {
		if o.ResourceFile == "" {
			return err
		}
		n, _ = sandbox.SampleNotification(sandbox.EventTransactionSuccess, creds.MchID, now)
		n.EventType, n.Summary, n.OriginalType, n.AssociatedData = o.Event, "", "", ""
	}
	if o.ID != "" {
		if len(o.ID) > 64 || strings.ContainsAny(o.ID, "\"\\\x00\n\r") {
			return fmt.Errorf("notify: --id %q is not a notification id", o.ID)
		}
		n.ID = o.ID
	}
	if o.ResourceFile != "" {
		raw, err := os.ReadFile(o.ResourceFile)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("%s: the resource must be a JSON object: %w", o.ResourceFile, err)
		}
		n.Resource = []byte(strings.TrimSpace(string(raw)))
	}
	sn, err := creds.SignNotification(n, now, o.Faults)
	if err != nil {
		return err
	}
	p := printer{out}
	dir, _ := filepath.Abs(creds.Dir)
	fmt.Fprintf(out, "Sending a %s callback as WeChat Pay would, with the THROWAWAY keys in %s (NOT FOR PRODUCTION)\n", n.EventType, dir)
	if o.Faults.Any() {
		fmt.Fprintf(out, "Faults on: %s (the route should refuse it)\n", strings.Join(FaultList(o.Faults), ", "))
	}
	fmt.Fprintf(out, "\nPOST %s\n", o.URL)
	printSent(p, sn)
	fmt.Fprintln(out, "\nThe resource in plaintext (what the app should receive as \"resource\"):")
	p.block(prettyJSON(n.Resource, 200))

	res, err := sandbox.SendNotification(ctx, nil, o.URL, sn)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	fmt.Fprintf(out, "\nAnswer: HTTP %d\n", res.Status)
	if len(res.Body) > 0 {
		p.block(prettyJSON(res.Body, 400))
	}
	switch {
	case o.Faults.Any() && res.Acknowledged():
		return errors.New("the route acknowledged a forged callback: it must verify signatures")
	case o.Faults.Any():
		fmt.Fprintln(out, "✓ refused, as it should be: a forged callback never reaches the app")
		return nil
	case res.Acknowledged():
		fmt.Fprintln(out, "✓ acknowledged: WeChat Pay would not send this notification again")
		fmt.Fprintf(out, "  To resend it as WeChat Pay does (same id, new signature; with dedup the app is not called again):\n  caddy wechatpay notify %s --dir %s --id %s\n", o.URL, o.Dir, n.ID)
		return nil
	}
	abs := filepath.Join(dir, creds.Files.APIv3Key)
	fmt.Fprintf(out, `
The route did not acknowledge it; WeChat Pay would send it again. For these keys
the route needs, in its wechatpay_notify block (a route with keys of its own):
    apiv3_key     "{file.%s}"
    public_key_id %s
    public_key    %s
or, for a route with wechatpay_notify { merchant <name> } (which takes no key
options itself), the same three lines in that merchant's block of the global
wechatpay app (with mchid %s); then reload the keys or the configuration.
`, abs, creds.PublicKeyID, filepath.Join(dir, creds.Files.PublicKey), creds.MchID)
	return fmt.Errorf("the route answered HTTP %d, not 2xx", res.Status)
}

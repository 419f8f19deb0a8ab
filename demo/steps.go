package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// credentials is step 1.
func (r *run) credentials() (*sandbox.Credentials, error) {
	r.p.heading(1, "Credentials: a throwaway merchant key set")
	_, statErr := os.Stat(filepath.Join(r.opts.Dir, sandbox.CredentialsFile))
	creds, err := sandbox.LoadOrGenerateCredentials(r.opts.Dir, "")
	if err != nil {
		return nil, err
	}
	dir, _ := filepath.Abs(creds.Dir)
	if errors.Is(statErr, fs.ErrNotExist) {
		r.p.line("Generated a new set in %s", dir)
	} else {
		r.p.line("Loaded the set in %s", dir)
	}
	r.p.line("mchid          %s", creds.MchID)
	r.p.line("serial_no      %s  (merchant API certificate)", creds.MerchantSerial)
	r.p.line("public key ID  %s", creds.PublicKeyID)
	r.p.line("%-18s the merchant private key: the proxy signs requests with it", creds.Files.MerchantPrivateKey)
	r.p.line("%-18s the WeChat Pay public key: the proxy encrypts fields and checks answers with it", creds.Files.PublicKey)
	r.p.line("%-18s the APIv3 key: the callback route (step 8) decrypts WeChat Pay's notifications with it", creds.Files.APIv3Key)
	r.p.line("%-18s private keys only the simulator holds (WeChat Pay never hands them out)", sandbox.SandboxOnlyDir+"/")
	r.p.line("These are THROWAWAY keys made on this machine, NOT FOR PRODUCTION: WeChat Pay does not know them.")
	return creds, nil
}

// simulator is step 2.
func (r *run) simulator(creds *sandbox.Credentials) (*simulator, error) {
	r.p.heading(2, "Simulator: a local stand-in for https://api.mch.weixin.qq.com")
	sim, err := startSimulator(creds, r.opts.SandboxListen, r.opts.Faults)
	if err != nil {
		return nil, err
	}
	r.p.line("Listening on %s", sim.url)
	r.p.line("Like WeChat Pay, it checks the request signature, decrypts the sensitive fields with the")
	r.p.line("WeChat Pay private key, and signs its answer. It also records what it saw, for steps 5 and 6.")
	if r.opts.Faults.Any() {
		r.p.line("Faults on: %s (its answers will misbehave; the proxy should refuse them)", strings.Join(FaultList(r.opts.Faults), ", "))
	}
	return sim, nil
}

// proxy is step 3: Caddy with the example's proxy site, plus a site that
// receives WeChat Pay's callbacks for the app stand-in at appAddr; stop is
// never nil.
func (r *run) proxy(creds *sandbox.Credentials, upstream, appAddr string) (proxyURL, notifyURL string, stop func(), err error) {
	stop = func() {}
	r.p.heading(3, "Proxy: Caddy with the wechatpay handler, configured by Caddyfile.example")
	listen, err := resolveListen(r.opts.Listen)
	if err != nil {
		return "", "", stop, err
	}
	text, err := rewriteCaddyfile(r.opts.Caddyfile, upstream, listen)
	if err != nil {
		return "", "", stop, err
	}
	notifyListen, err := resolveListen(r.opts.NotifyListen)
	if err != nil {
		return "", "", stop, err
	}
	keyPath, err := filepath.Abs(creds.Path(creds.Files.APIv3Key))
	if err != nil || creds.APIv3Key == "" {
		return "", "", stop, fmt.Errorf("the credentials set has no APIv3 key file (%v)", err)
	}
	site, err := notifySite(notifyListen, keyPath, appAddr)
	if err != nil {
		return "", "", stop, err
	}
	if text, err = withAPIv2Key(text, creds); err != nil {
		return "", "", stop, err
	}
	text += site
	r.p.line("reverse_proxy https://api.mch.weixin.qq.com  →  %s (the simulator)", upstream)
	if _, port, _ := net.SplitHostPort(listen); port != "9180" {
		r.p.line("site address :9180  →  :%s", port)
	}
	r.p.line("plus a callback site for step 8, as a merchant would expose to WeChat Pay:")
	r.p.line("  :%s { handle %s { wechatpay_notify {...}  reverse_proxy %s (an app stand-in) } }",
		portOf(notifyListen), NotifyPath, appAddr)
	vars, err := CaddyfileEnv(creds)
	if err != nil {
		return "", "", stop, err
	}
	r.p.line("The Caddyfile reads its credentials from {env.WECHATPAY_*}; set for this run:")
	for _, v := range vars {
		r.p.line("  %s=%s", v.Name, v.Value)
	}
	restore, err := setEnv(vars)
	if err != nil {
		return "", "", stop, err
	}
	defer restore() // the handler reads the variables while Caddy starts
	storage, err := filepath.Abs(filepath.Join(creds.Dir, "caddy-storage"))
	if err != nil {
		return "", "", stop, err
	}
	cfg, warnings, err := adaptCaddyfile(text, storage)
	for _, w := range warnings {
		if !strings.Contains(w.Message, "input is not formatted") { // cosmetic
			r.p.line("note: %s", w.String())
		}
	}
	if err != nil {
		return "", "", stop, fmt.Errorf("adapting the Caddyfile: %w", err)
	}
	r.p.line("Admin endpoint off (no clash with a Caddy on :2019); the config is not autosaved;")
	r.p.line("Caddy's storage (where wechatpay_notify records acknowledged callbacks) is %s.", storage)
	if stop, err = startProxy(cfg, listen, notifyListen); err != nil {
		return "", "", func() {}, fmt.Errorf("starting Caddy: %w", err)
	}
	proxyURL = "http://" + listen
	r.p.line("Listening on %s (proxy) and http://%s (callbacks)", proxyURL, notifyListen)
	return proxyURL, "http://" + notifyListen + NotifyPath, stop, nil
}

// portOf returns the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// request is step 4.
func (r *run) request(ctx context.Context, proxyURL string) (*appAnswer, error) {
	r.p.heading(4, "The app calls the proxy in plain JSON: no signature, no encryption")
	r.p.line("POST %s%s", proxyURL, PresignPath)
	r.p.line("Content-Type: application/json")
	r.p.block(presignBody)
	return sendPresign(ctx, proxyURL)
}

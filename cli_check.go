package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/golivecheck"
)

// Exit statuses of `caddy wechatpay check`.
const (
	checkPassed    = 0 // every line ✓ (warnings allowed)
	checkFailed    = 1 // a line ✗
	checkNotLoaded = 2 // the config did not load
)

// checkOptions are the flags of `caddy wechatpay check`.
type checkOptions struct {
	configFile, adapter, merchant, url string
	json                               bool
}

// checkCommand is `caddy wechatpay check`: before going live, one signed,
// read-only call to WeChat Pay per merchant shows whether WeChat Pay
// accepts its signature and whether its configured keys verify WeChat
// Pay's answer.
func checkCommand() *cobra.Command {
	var opts checkOptions
	cmd := &cobra.Command{
		Use:   "check [--config <file>] [--adapter <name>] [--merchant <name>] [--url <base URL>] [--json]",
		Short: "Check, before going live, that WeChat Pay accepts the configured keys and that they verify its answers",
		Long: `
Reads the Caddy config as 'caddy run' does (--config, else ./Caddyfile),
without starting it (no listener, no storage write), and for every merchant
of the global wechatpay app, every wechatpay handler with keys of its own
and every wechatpay_notify handler with keys of its own, prints one line per
check, ✓ or ✗, and under each ✗ what to change:

  private_key, merchant_certificate, wechatpay_keys, apiv3_key
                 the keys load and belong together
  signature      WeChat Pay accepts the merchant's signature: one signed
                 GET /v3/certificates (read-only; a merchant on the WeChat
                 Pay public key gets 404 RESOURCE_NOT_EXISTS, accepted)
  answer         the configured keys verify WeChat Pay's answer, and which
                 key WeChat Pay signed it with
  clock          this host's clock against WeChat Pay's Date (✗ past 60 s)
  backup_domain  the second certificates_url answers a TLS handshake
                 (a warning only)

The call goes to the merchant's first certificates_url; for a handler, to
its reverse_proxy upstream when one is found, else to
https://api.mch.weixin.qq.com; --url overrides both. Nothing of a key is
printed. Exit status: 0 when no line is ✗, 1 otherwise, 2 when the config
does not load. --json prints the same as one JSON document.
`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
		ctx, stop := clicmd.Interruptible(cmd.Context())
		defer stop()
		return runCheck(ctx, cmd.OutOrStdout(), opts)
	})
	fl := cmd.Flags()
	fl.StringVarP(&opts.configFile, "config", "c", "", "configuration file (default ./Caddyfile)")
	fl.StringVarP(&opts.adapter, "adapter", "a", "", "name of the config adapter")
	fl.StringVar(&opts.merchant, "merchant", "", "only this merchant of the wechatpay app")
	fl.StringVar(&opts.url, "url", "", "base URL to call instead of certificates_url or the handler's upstream")
	fl.BoolVar(&opts.json, "json", false, "print the result as one JSON document")
	return cmd
}

// runCheck checks the config and writes the report to out. It returns the
// exit status, with an error for any status but 0.
func runCheck(ctx context.Context, out io.Writer, opts checkOptions) (int, error) {
	targets, err := checkTargets(opts)
	if err != nil {
		return checkNotLoaded, err
	}
	var override []string
	if opts.url != "" {
		if override, err = certificatesURLs(URLList{opts.url}); err != nil {
			return checkNotLoaded, fmt.Errorf("--url: %w", err)
		}
	}
	var done []*golivecheck.Target
	for _, t := range targets {
		tctx, cancel := context.WithTimeout(ctx, downloadTimeout)
		done = append(done, t.run(tctx, override))
		cancel()
	}
	report := golivecheck.NewReport(done)
	if opts.json {
		err = report.WriteJSON(out)
	} else {
		err = report.WriteText(out)
	}
	if err != nil {
		return checkFailed, err
	}
	if status := report.ExitStatus(); status != checkPassed {
		return status, errors.New("wechatpay check: a check failed (the lines marked ✗ say what to change)")
	}
	return checkPassed, nil
}

// checkTarget is one configuration to check: a merchant of the app, or a
// handler with keys of its own.
type checkTarget struct {
	name     string
	keys     keyOptions
	merchant *Merchant // nil for a handler
	notify   bool      // a wechatpay_notify handler: keys only, it signs nothing
	urls     []string  // where the call goes, [1] the backup; nil: the default
}

// checkTargets loads the config as `caddy run` would and returns what to
// check, merchants first, by name.
func checkTargets(opts checkOptions) ([]*checkTarget, error) {
	raw, _, _, err := caddycmd.LoadConfig(opts.configFile, opts.adapter)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	app := new(App)
	if cfg.Apps["wechatpay"] != nil {
		if err := json.Unmarshal(cfg.Apps["wechatpay"], app); err != nil {
			return nil, fmt.Errorf("the wechatpay app config: %w", err)
		}
	}
	if opts.merchant != "" && app.Merchants[opts.merchant] == nil {
		return nil, fmt.Errorf("merchant %q is not in the config (defined: %s)", opts.merchant, strings.Join(app.names(), ", "))
	}
	var targets []*checkTarget
	for _, name := range app.names() {
		m := app.Merchants[name]
		if m == nil || opts.merchant != "" && name != opts.merchant {
			continue
		}
		targets = append(targets, &checkTarget{name: "merchant " + name, keys: m.keyOptions(), merchant: m, urls: m.CertificatesURL})
	}
	if opts.merchant == "" {
		found, err := inlineHandlers(cfg.Apps["http"])
		if err != nil {
			return nil, err
		}
		targets = append(targets, found...)
	}
	if len(targets) == 0 {
		return nil, errors.New("the config has nothing to check: no merchant in the wechatpay app, and no wechatpay or wechatpay_notify handler with keys of its own")
	}
	return targets, nil
}

// run checks the target: its keys, then, when they load, the call.
func (t *checkTarget) run(ctx context.Context, override []string) *golivecheck.Target {
	out := &golivecheck.Target{Name: t.name}
	logs, observed := observer.New(zapcore.WarnLevel)
	logger := zap.New(logs)
	defer func() {
		for _, e := range observed.All() { // key files readable by others, keys written literally...
			out.Add(golivecheck.CheckConfigWarning, golivecheck.Warn, describeWarning(e), "")
		}
	}()
	if t.notify {
		t.checkNotifyKeys(out, logger)
		return out
	}
	signer, trusted, apiv3Key, ok := t.checkKeys(out, logger)
	if !ok {
		for _, c := range []string{golivecheck.CheckSignature, golivecheck.CheckAnswer, golivecheck.CheckClock} {
			out.Add(c, golivecheck.Skipped, "not checked: the keys do not load", "")
		}
		return out
	}
	urls := override
	if urls == nil {
		var err error
		if urls, err = certificatesURLs(t.urls); err != nil {
			out.Add(golivecheck.CheckSignature, golivecheck.Fail, err.Error(), "certificates_url: give http(s) URLs, each once")
			return out
		}
	}
	call := &golivecheck.Call{Client: &http.Client{Timeout: downloadTimeout}, URL: urls[0], UserAgent: userAgent(),
		Signer: signer, Trusted: trusted.byID}
	if !trusted.empty() {
		call.Serial = trusted.chosen
	}
	if apiv3Key != nil {
		call.AEAD, _ = apiv3.NewAEAD(apiv3Key) // 32 bytes: checked when loaded
	}
	out.URL = urls[0]
	out.Lines = append(out.Lines, call.Run(ctx)...)
	if len(urls) > 1 {
		out.Lines = append(out.Lines, golivecheck.Backup(ctx, urls[1], nil, backupTimeout))
	}
	return out
}

// backupTimeout bounds the backup domain's handshake.
const backupTimeout = 10 * time.Second

// checkKeys loads the keys as the module does and adds a line for each:
// the signing key, the merchant certificate (when configured), the WeChat
// Pay keys and the APIv3 key (when configured). ok is false when one fails.
func (t *checkTarget) checkKeys(out *golivecheck.Target, logger *zap.Logger) (signer *apiv3.Signer, trusted *trustedKeys, apiv3Key []byte, ok bool) {
	now := time.Now()
	signer, err := t.keys.loadSigner(logger)
	if err != nil {
		out.Add(golivecheck.CheckPrivateKey, golivecheck.Fail, err.Error(), "mchid, serial_no and private_key come from the merchant platform: the merchant number, and the serial and key of its API certificate (apiclient_cert.pem, apiclient_key.pem)")
		return nil, nil, nil, false
	}
	out.MchID = signer.MchID
	out.Add(golivecheck.CheckPrivateKey, golivecheck.OK,
		fmt.Sprintf("RSA %d-bit key loads; requests are signed as mchid %s, serial_no %s", signer.Key.Public().N.BitLen(), signer.MchID, signer.SerialNo), "")
	ok = true
	if cert, err := t.keys.loadMerchantCertificate(logger, signer); err != nil {
		out.Add(golivecheck.CheckMerchantCertificate, golivecheck.Fail, err.Error(),
			"merchant_certificate must be apiclient_cert.pem of private_key, and serial_no its serial (openssl x509 -in apiclient_cert.pem -noout -serial)")
		ok = false
	} else if cert != nil {
		status, fix := golivecheck.OK, ""
		if !now.Before(cert.notAfter) {
			status, fix = golivecheck.Fail, "renew the merchant API certificate in the merchant platform: WeChat Pay refuses requests signed under an expired one"
		}
		out.Add(golivecheck.CheckMerchantCertificate, status,
			"serial "+cert.serial+" belongs to private_key; "+golivecheck.DaysLeft(now, cert.notAfter), fix)
	}
	if t.merchant != nil {
		t.merchant.logger = logger
		trusted, err = t.merchant.loadStatic()
	} else {
		trusted, err = t.keys.WechatPayKeys.load(logger)
	}
	if err != nil {
		out.Add(golivecheck.CheckWechatPayKeys, golivecheck.Fail, err.Error(), "public_key_id and public_key (or platform_certificate) are WeChat Pay's keys, from the merchant platform (账户中心 → API安全)")
		ok = false
	}
	if apiv3Key, err = t.keys.loadAPIv3Key(logger); err == nil && t.merchant != nil {
		t.merchant.apiv3Key = apiv3Key // downloads() asks for it
	}
	if err != nil {
		out.Add(golivecheck.CheckAPIv3Key, golivecheck.Fail, err.Error(), "apiv3_key is the APIv3 key set in the merchant platform (账户中心 → API安全): 32 characters")
		ok = false
	} else if apiv3Key != nil {
		out.Add(golivecheck.CheckAPIv3Key, golivecheck.OK, "32 bytes", "")
	}
	if err == nil && trusted != nil {
		switch {
		case !trusted.empty():
			status, fix := trustedStatus(trusted, now)
			out.Add(golivecheck.CheckWechatPayKeys, status, describeTrusted(trusted, now)+"; encrypting with "+trusted.chosen, fix)
		case t.merchant != nil && t.merchant.downloads():
			out.Add(golivecheck.CheckWechatPayKeys, golivecheck.OK, "none configured: platform certificates are downloaded (apiv3_key)", "")
		default:
			out.Add(golivecheck.CheckWechatPayKeys, golivecheck.Fail, "no WeChat Pay key: public_key (with public_key_id) or platform_certificate is required, or apiv3_key to download platform certificates",
				"configure public_key_id and public_key (商户平台 → 账户中心 → API安全 → 微信支付公钥)")
			ok = false
		}
	}
	return signer, trusted, apiv3Key, ok
}

// checkNotifyKeys checks a wechatpay_notify handler's own keys: the WeChat
// Pay keys callbacks are verified with and the APIv3 key that decrypts
// them.
func (t *checkTarget) checkNotifyKeys(out *golivecheck.Target, logger *zap.Logger) {
	now := time.Now()
	if trusted, err := t.keys.WechatPayKeys.load(logger); err != nil {
		out.Add(golivecheck.CheckWechatPayKeys, golivecheck.Fail, err.Error(), "public_key_id and public_key (or platform_certificate) are WeChat Pay's keys, from the merchant platform (账户中心 → API安全)")
	} else if t.keys.WechatPaySerial != "" {
		out.Add(golivecheck.CheckWechatPayKeys, golivecheck.Fail, "wechatpay_serial has no meaning for wechatpay_notify: callbacks verify under any configured key", "remove wechatpay_serial from the wechatpay_notify block")
	} else {
		status, fix := trustedStatus(trusted, now)
		out.Add(golivecheck.CheckWechatPayKeys, status, describeTrusted(trusted, now), fix)
	}
	switch key, err := t.keys.loadAPIv3Key(logger); {
	case err != nil:
		out.Add(golivecheck.CheckAPIv3Key, golivecheck.Fail, err.Error(), "apiv3_key is the APIv3 key set in the merchant platform (账户中心 → API安全): 32 characters")
	case key == nil:
		out.Add(golivecheck.CheckAPIv3Key, golivecheck.Fail, "apiv3_key is required: it decrypts the callbacks", "set apiv3_key {env.X} or {file./path} to the APIv3 key of the merchant platform")
	default:
		out.Add(golivecheck.CheckAPIv3Key, golivecheck.OK, "32 bytes", "")
	}
}

// describeTrusted names the configured WeChat Pay keys, certificates with
// the days they have left.
func describeTrusted(t *trustedKeys, now time.Time) string {
	var parts []string
	for _, id := range t.order {
		if na, isCert := t.notAfter[id]; isCert {
			parts = append(parts, "platform certificate "+id+" ("+golivecheck.DaysLeft(now, na)+")")
		} else {
			parts = append(parts, "WeChat Pay public key "+id)
		}
	}
	return strings.Join(parts, "; ")
}

// trustedStatus is a warning when a configured platform certificate has
// expired: answers WeChat Pay signs with it no longer verify.
func trustedStatus(t *trustedKeys, now time.Time) (golivecheck.Status, string) {
	for _, na := range t.notAfter {
		if !now.Before(na) {
			return golivecheck.Warn, "an expired platform certificate verifies nothing: replace it with the current one (caddy wechatpay certificates downloads them), or configure the WeChat Pay public key"
		}
	}
	return golivecheck.OK, ""
}

// describeWarning words a warning the key loading logged: its message and
// its string fields (option, file, mode, serial), never a value of a key.
func describeWarning(e observer.LoggedEntry) string {
	var fields []string
	for _, f := range e.Context {
		if f.Type == zapcore.StringType {
			fields = append(fields, f.Key+" "+f.String)
		}
	}
	if len(fields) == 0 {
		return e.Message
	}
	return e.Message + " (" + strings.Join(fields, ", ") + ")"
}

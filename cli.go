package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/tidwall/gjson"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// defaultSandboxListen is the address `caddy wechatpay sandbox` listens on.
const defaultSandboxListen = "127.0.0.1:9181"

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "wechatpay",
		Usage: "demo|sandbox|keygen|notify|certificates|keys",
		Short: "Try the wechatpay proxy locally: demo, WeChat Pay sandbox, throwaway keys",
		Long: `
Tools to try the wechatpay handler without a merchant account. Everything
they generate is THROWAWAY test material, NOT FOR PRODUCTION.

  caddy wechatpay demo     runs the whole chain once and shows each hop:
                           app (plain JSON) → proxy → WeChat Pay simulator
  caddy wechatpay sandbox  serves the WeChat Pay simulator, to test your own
                           app through the proxy
  caddy wechatpay keygen   writes a throwaway credential set
  caddy wechatpay notify   sends a signed, encrypted callback, as WeChat Pay
                           would, to test a wechatpay_notify route
  caddy wechatpay certificates
                           downloads the platform certificates of the
                           merchants of a config now, into its storage
  caddy wechatpay keys     lists the keys a running Caddy uses; --reload
                           reads them again from their files, restarting
                           nothing
`,
		CobraFunc: addCommands,
	})
}

// addCommands adds the wechatpay subcommands to the `caddy wechatpay` command.
func addCommands(cmd *cobra.Command) {
	cmd.AddCommand(demoCommand(), sandboxCommand(), keygenCommand(), notifyCommand(), certificatesCommand(), keysCommand())
	cmd.Args = cobra.NoArgs // an unknown subcommand is an error, not help
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// interruptible returns ctx, cancelled also on SIGINT or SIGTERM.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func demoCommand() *cobra.Command {
	var opts demo.Options
	var faults []string
	cmd := &cobra.Command{
		Use:   "demo [--dir <dir>] [--listen <addr>] [--sandbox-listen <addr>]",
		Short: "Run the proxy against a local WeChat Pay simulator and show each hop",
		Long: `
Runs the whole chain on this machine and explains each step: throwaway
credentials (generated in --dir on first use), the WeChat Pay simulator, this
Caddy with Caddyfile.example pointed at the simulator, and a presign request
sent in plain JSON as a legacy app would. It shows what reached "WeChat Pay"
(signed, with ciphertext), what the simulator verified and decrypted, and the
verified answer the app got; then a payment callback through a wechatpay_notify
route to a small app, and an image upload (multipart/form-data, signed over
its meta part). Exits non-zero when any of it fails.

--fault makes the simulator's answers misbehave, to see the proxy refuse them
(the demo then fails on purpose). Faults: ` + strings.Join(demo.FaultNames(), ", ") + `.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := demo.ParseFaults(faults)
			if err != nil {
				return err
			}
			opts.Faults = f
			opts.Caddyfile = ExampleCaddyfile
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			return demo.Run(ctx, cmd.OutOrStdout(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", demo.DefaultDir, "directory of the throwaway credentials (generated when empty)")
	fl.StringVar(&opts.Listen, "listen", demo.DefaultListen, "loopback address of the proxy (port 0: a free port)")
	fl.StringVar(&opts.SandboxListen, "sandbox-listen", demo.DefaultSandboxListen, "loopback address of the simulator (port 0: a free port)")
	fl.StringArrayVar(&faults, "fault", nil, "make the simulator's answers misbehave (repeatable): "+strings.Join(demo.FaultNames(), ", "))
	return cmd
}

func keygenCommand() *cobra.Command {
	var mchid string
	cmd := &cobra.Command{
		Use:   "keygen <dir> [--mchid <number>]",
		Short: "Write a throwaway credential set for the sandbox (NOT FOR PRODUCTION)",
		Long: `
Writes a fresh set of merchant and WeChat Pay keys into <dir> (created if
missing; an existing set is never overwritten), named as WeChat Pay names
them, and prints the WECHATPAY_* variables that point Caddyfile.example at
them. WeChat Pay does not know these keys: they only work with
'caddy wechatpay sandbox'. NOT FOR PRODUCTION.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeygen(cmd.OutOrStdout(), args[0], mchid)
		},
	}
	cmd.Flags().StringVar(&mchid, "mchid", sandbox.DefaultMchID, "merchant number of the set")
	return cmd
}

func runKeygen(out io.Writer, dir, mchid string) error {
	c, err := sandbox.GenerateCredentials(dir, mchid)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already holds a credential set (%s); choose another directory or delete it", dir, sandbox.CredentialsFile)
	}
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(c.Dir)
	fmt.Fprintf(out, "Wrote a THROWAWAY credential set to %s\n", abs)
	fmt.Fprintln(out, "NOT FOR PRODUCTION: WeChat Pay does not know these keys; use them only with 'caddy wechatpay sandbox'.")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Files:")
	for _, f := range []struct{ name, what string }{
		{c.Files.MerchantPrivateKey, "merchant API private key (mode 0600): the proxy signs with it"},
		{c.Files.MerchantCertificate, "merchant API certificate, serial_no " + c.MerchantSerial},
		{c.Files.PublicKey, "WeChat Pay public key, " + c.PublicKeyID},
		{"wechatpay_<serial>.pem", "WeChat Pay platform certificate (the older key mode), serial " + c.PlatformSerial},
		{c.Files.APIv3Key, "APIv3 key (mode 0600): wechatpay_notify decrypts callbacks with it"},
		{sandbox.SandboxOnlyDir + "/", "private keys only the simulator uses (WeChat Pay never hands these out)"},
		{sandbox.CredentialsFile, "what the set holds: mchid " + c.MchID + ", serials, key ID, file names"},
		{sandbox.NoticeFile, "says these are throwaway keys"},
	} {
		fmt.Fprintf(out, "  %-24s %s\n", f.name, f.what)
	}
	vars, err := demo.CaddyfileEnv(c)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\nEnvironment for Caddyfile.example with this set:")
	demo.PrintEnv(out, "  ", vars)
	fmt.Fprintf(out, "\nThen run 'caddy wechatpay sandbox --dir %s' and use 'reverse_proxy http://%s'\nin the Caddyfile instead of https://api.mch.weixin.qq.com.\n", dir, defaultSandboxListen)
	if c.APIv3Key != "" {
		keyPath, _ := filepath.Abs(c.Path(c.Files.APIv3Key))
		fmt.Fprintf(out, "\nFor a wechatpay_notify (callback) route, use in its block\n  apiv3_key \"{file.%s}\"\n"+
			"with the public key above, and test it with 'caddy wechatpay notify <url> --dir %s'.\n", keyPath, dir)
	}
	return nil
}

func notifyCommand() *cobra.Command {
	var o demo.NotifyOptions
	var faults []string
	cmd := &cobra.Command{
		Use:   "notify <url> [--dir <dir>] [--event <event_type>] [--resource <file.json>] [--fault <name>]...",
		Short: "Send a signed, encrypted callback to a wechatpay_notify route, as WeChat Pay would",
		Long: `
Sends one WeChat Pay callback (notification) to <url>, e.g.
http://127.0.0.1:9443/wechatpay/notify, made with the THROWAWAY keys in --dir
(generated on first use; NOT FOR PRODUCTION): the resource is encrypted with
AEAD_AES_256_GCM under the set's APIv3 key (apiv3_key.txt) and the envelope
signed with the WeChat Pay public key's private half, which only the sandbox
holds. The route's wechatpay_notify block must use the set's public_key_id,
public_key and apiv3_key.

--event picks the sample: ` + strings.Join(sandbox.NotificationEvents(), ", ") + ` (default
TRANSACTION.SUCCESS). --resource sends the JSON object in a file as the
resource instead (then --event may be any event_type). --fault forges the
signature to see the route refuse it: wrong-key, stale-timestamp,
unknown-serial, probe-signature, omit-signature.

Exits non-zero when the route does not acknowledge the callback (anything
but 2xx: WeChat Pay would send it again), or acknowledges a forged one.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := demo.ParseFaults(faults)
			if err != nil {
				return err
			}
			if f.Gzip {
				return errors.New("--fault gzip applies to the sandbox's answers, not to callbacks")
			}
			o.URL, o.Faults = args[0], f
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			return demo.SendNotify(ctx, cmd.OutOrStdout(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", demo.DefaultDir, "directory of the throwaway credentials (generated when empty)")
	fl.StringVar(&o.Event, "event", sandbox.EventTransactionSuccess, "event_type of the callback: "+strings.Join(sandbox.NotificationEvents(), ", "))
	fl.StringVar(&o.ResourceFile, "resource", "", "file holding the JSON object to send as the resource, instead of the sample")
	fl.StringArrayVar(&faults, "fault", nil, "forge the callback's signature (repeatable): wrong-key, stale-timestamp, unknown-serial, probe-signature, omit-signature")
	return cmd
}

// sandboxOptions are the flags of `caddy wechatpay sandbox`.
type sandboxOptions struct {
	dir, listen string
	faults      []string
	allowRemote bool
}

func sandboxCommand() *cobra.Command {
	var o sandboxOptions
	cmd := &cobra.Command{
		Use:   "sandbox [--dir <dir>] [--listen <addr>] [--fault <name>]...",
		Short: "Serve a local WeChat Pay simulator to test an app through the proxy",
		Long: `
Serves a local stand-in for https://api.mch.weixin.qq.com until interrupted.
It checks request signatures and the encrypted fields like WeChat Pay, and
answers signed JSON. It uses the throwaway credentials in --dir (generated on
first use) and prints the WECHATPAY_* variables to start the proxy with.
One line per request is logged; nothing secret or personal.

--fault makes answers misbehave (repeatable): ` + strings.Join(demo.FaultNames(), ", ") + `.
--listen must be a loopback address unless --allow-remote is given.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			return runSandbox(ctx, cmd.OutOrStdout(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.dir, "dir", demo.DefaultDir, "directory of the throwaway credentials (generated when empty)")
	fl.StringVar(&o.listen, "listen", defaultSandboxListen, "address to listen on")
	fl.StringArrayVar(&o.faults, "fault", nil, "make answers misbehave (repeatable): "+strings.Join(demo.FaultNames(), ", "))
	fl.BoolVar(&o.allowRemote, "allow-remote", false, "allow a --listen address that is not loopback")
	return cmd
}

func runSandbox(ctx context.Context, out io.Writer, o sandboxOptions) error {
	if err := demo.CheckLoopback(o.listen); err != nil && !o.allowRemote {
		return fmt.Errorf("%w; pass --allow-remote to listen there anyway", err)
	}
	faults, err := demo.ParseFaults(o.faults)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(o.dir, sandbox.CredentialsFile))
	creds, err := sandbox.LoadOrGenerateCredentials(o.dir, "")
	if err != nil {
		return err
	}
	lw := &lineWriter{w: out}
	cfg := creds.ServerConfig()
	cfg.Faults = faults
	cfg.Observer = lw.logExchange
	srv, err := sandbox.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	printSandboxBanner(lw, creds, ln.Addr().String(), errors.Is(statErr, fs.ErrNotExist), faults)

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		_ = hs.Close()
	}
	lw.printf("sandbox stopped\n")
	return nil
}

func printSandboxBanner(lw *lineWriter, creds *sandbox.Credentials, addr string, generated bool, faults sandbox.Faults) {
	dir, _ := filepath.Abs(creds.Dir)
	how := "loaded"
	if generated {
		how = "generated now"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "WeChat Pay sandbox (a local stand-in for https://api.mch.weixin.qq.com) listening on http://%s\n", addr)
	fmt.Fprintf(&b, "Credentials: %s (%s) - THROWAWAY keys, NOT FOR PRODUCTION\n", dir, how)
	if faults.Any() {
		fmt.Fprintf(&b, "Faults on: %s (answers misbehave on purpose)\n", strings.Join(demo.FaultList(faults), ", "))
	}
	if err := demo.CheckLoopback(addr); err != nil {
		fmt.Fprintf(&b, "WARNING: listening beyond this machine (--allow-remote)\n")
	}
	b.WriteString("\nTo point the proxy at it, set:\n")
	if vars, err := demo.CaddyfileEnv(creds); err == nil {
		demo.PrintEnv(&b, "  ", vars)
	}
	fmt.Fprintf(&b, "and in your Caddyfile (e.g. a copy of Caddyfile.example) use\n  reverse_proxy http://%s\n", addr)
	b.WriteString("then run ./caddy run --config <that Caddyfile> and send your app's requests to the proxy.\n")
	b.WriteString("\nOne line per request follows (Ctrl-C to stop).\n")
	lw.printf("%s", b.String())
}

// lineWriter serializes the sandbox's output lines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// logExchange logs one line per request: time, method, path without the
// query (which may hold ciphertext), status, error code and the first failed
// check. Step details never hold secrets; decrypted values are never logged.
func (l *lineWriter) logExchange(x sandbox.Exchange) {
	path, _, _ := strings.Cut(x.RequestURI, "?")
	outcome := fmt.Sprintf("✓ %d checks passed", len(x.Steps))
	if s, failed := x.Failed(); failed {
		outcome = fmt.Sprintf("✗ %s: %s", s.Name, s.Detail)
	}
	code := ""
	if x.Status >= 400 {
		code = " " + gjson.GetBytes(x.ResponseBody, "code").String()
	}
	l.printf("%s %s %s → %d%s  %s  Request-ID %s\n",
		x.Time.Format("15:04:05"), x.Method, path, x.Status, code, outcome, x.RequestID)
}

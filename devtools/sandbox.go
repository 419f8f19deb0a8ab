package devtools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/spf13/cobra"
	"github.com/tidwall/gjson"
)

// defaultSandboxListen is the address `caddy wechatpay sandbox` listens on.
const defaultSandboxListen = "127.0.0.1:9181"

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

A --dir that holds no set itself but sets in its subdirectories (written by
'keygen <dir>/<name> --mchid <n>') is served as one sandbox for all those
merchants, each judged by its Authorization mchid and answered with its own
keys.

--fault makes answers misbehave (repeatable): ` + strings.Join(demo.FaultNames(), ", ") + `.
--listen must be a loopback address unless --allow-remote is given.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := clicmd.Interruptible(cmd.Context())
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
	if statErr != nil {
		if sets, err := sandbox.LoadCredentialSets(o.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		} else if len(sets) > 0 {
			return runSandboxSets(ctx, out, o, faults, sets)
		}
	}
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
	return serveSandbox(ctx, lw, ln, srv)
}

// serveSandbox serves h on ln until ctx ends.
func serveSandbox(ctx context.Context, lw *lineWriter, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
	if creds.APIv2Key != "" {
		keyPath, _ := filepath.Abs(creds.Path(creds.Files.APIv2Key))
		fmt.Fprintf(&b, "For the coupon and payscore forms add apiv2_key \"{file.%s}\"; the simulated WeChat client\n"+
			"checks them at http://%s%s, %s and %s.\n", keyPath, addr, sandbox.ClientSendCouponPath, sandbox.ClientH5CouponPath, sandbox.ClientPayscoreDetailPath)
	}
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

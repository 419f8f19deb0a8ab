package devtools

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// runSandboxSets serves several credential sets (the subdirectories of
// --dir) as one sandbox: each merchant answered with its own keys.
func runSandboxSets(ctx context.Context, out io.Writer, o sandboxOptions, faults sandbox.Faults, sets []*sandbox.Credentials) error {
	lw := &lineWriter{w: out}
	servers := make([]*sandbox.Server, 0, len(sets))
	for _, c := range sets {
		cfg := c.ServerConfig()
		cfg.Faults = faults
		// Each merchant's request lines start with its mchid.
		cfg.Observer = (&lineWriter{w: prefixWriter{lw: lw, prefix: c.MchID + " | "}}).logExchange
		srv, err := sandbox.New(cfg)
		if err != nil {
			return fmt.Errorf("credential set %s: %w", c.Dir, err)
		}
		servers = append(servers, srv)
	}
	h, err := sandbox.NewMerchants(servers...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	printSetsBanner(lw, o.dir, sets, ln.Addr().String(), faults)
	return serveSandbox(ctx, lw, ln, h)
}

func printSetsBanner(lw *lineWriter, dir string, sets []*sandbox.Credentials, addr string, faults sandbox.Faults) {
	abs, _ := filepath.Abs(dir)
	var b strings.Builder
	fmt.Fprintf(&b, "WeChat Pay sandbox (a local stand-in for https://api.mch.weixin.qq.com) listening on http://%s\n", addr)
	fmt.Fprintf(&b, "Credentials: %d sets in %s - THROWAWAY keys, NOT FOR PRODUCTION\n", len(sets), abs)
	fmt.Fprintf(&b, "Each merchant is judged by its Authorization mchid and serial_no and answered with its own keys.\n")
	if faults.Any() {
		fmt.Fprintf(&b, "Faults on: %s (answers misbehave on purpose)\n", strings.Join(demo.FaultList(faults), ", "))
	}
	if err := demo.CheckLoopback(addr); err != nil {
		fmt.Fprintf(&b, "WARNING: listening beyond this machine (--allow-remote)\n")
	}
	for _, c := range sets {
		fmt.Fprintf(&b, "\nMerchant %s (%s); to point a proxy at it, set:\n", c.MchID, c.Dir)
		if vars, err := demo.CaddyfileEnv(c); err == nil {
			demo.PrintEnv(&b, "  ", vars)
		}
	}
	fmt.Fprintf(&b, "\nand in your Caddyfile use\n  reverse_proxy http://%s\n", addr)
	b.WriteString("\nOne line per request follows (Ctrl-C to stop).\n")
	lw.printf("%s", b.String())
}

// prefixWriter writes each line (one Write) through lw, after a prefix.
type prefixWriter struct {
	lw     *lineWriter
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	p.lw.printf("%s%s", p.prefix, b)
	return len(b), nil
}

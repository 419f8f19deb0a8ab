package devtools

import (
	"strings"

	wechatpay "github.com/caddy-wechatpay/caddy-wechatpay"
	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
	"github.com/spf13/cobra"
)

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
route to a small app, an image upload (multipart/form-data, signed over its
meta part), and a JSAPI payment: the prepay call, the payment sheet invocation
the proxy signs (request_payment) and the simulated WeChat client's verdict.
Exits non-zero when any of it fails.

--fault makes the simulator's answers misbehave, to see the proxy refuse them,
or (tamper-paysign) changes the invocation's paySign on its way to the client
(the demo then fails on purpose). Faults: ` + strings.Join(demo.DemoFaultNames(), ", ") + `.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := demo.ApplyFaults(&opts, faults); err != nil {
				return err
			}
			opts.Caddyfile = wechatpay.ExampleCaddyfile
			ctx, stop := clicmd.Interruptible(cmd.Context())
			defer stop()
			return demo.Run(ctx, cmd.OutOrStdout(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", demo.DefaultDir, "directory of the throwaway credentials (generated when empty)")
	fl.StringVar(&opts.Listen, "listen", demo.DefaultListen, "loopback address of the proxy (port 0: a free port)")
	fl.StringVar(&opts.SandboxListen, "sandbox-listen", demo.DefaultSandboxListen, "loopback address of the simulator (port 0: a free port)")
	fl.StringArrayVar(&faults, "fault", nil, "make the simulator's answers, or the invocation, misbehave (repeatable): "+strings.Join(demo.DemoFaultNames(), ", "))
	return cmd
}

package wechatpay

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "wechatpay",
		Usage: "<command>",
		Short: "Operate the wechatpay module: a go-live check, keys, platform certificates (and, in a development build, a local WeChat Pay)",
		Long: `
Commands for the wechatpay module:

  caddy wechatpay certificates
                           downloads the platform certificates of the
                           merchants of a config now, into its storage
  caddy wechatpay check    checks, before going live, that WeChat Pay
                           accepts the keys of a config and that they
                           verify its answers (one read-only call per
                           merchant; starts nothing)
  caddy wechatpay keys     lists the keys a running Caddy uses; --reload
                           reads them again from their files, restarting
                           nothing

A build made with ./xcaddy.sh also has the developer tools, which generate
THROWAWAY test material, NOT FOR PRODUCTION: demo (the whole chain against a
local WeChat Pay simulator), sandbox (the simulator), keygen (a throwaway
credential set) and notify (a signed callback). Every command available in
this build is listed below.
`,
		CobraFunc: addCommands,
	})
	clicmd.Register(certificatesCommand)
	clicmd.Register(keysCommand)
	clicmd.Register(checkCommand)
}

// addCommands adds the registered subcommands to `caddy wechatpay`.
func addCommands(cmd *cobra.Command) {
	cmd.AddCommand(clicmd.Commands()...)
	cmd.Args = cobra.NoArgs // an unknown subcommand is an error, not help
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

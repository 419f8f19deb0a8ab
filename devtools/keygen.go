package devtools

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/spf13/cobra"
)

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

Several merchants: write each set into a subdirectory of one directory
(keygen ./keys/1900000001 --mchid 1900000001, keygen ./keys/1900000002
--mchid 1900000002) and run 'caddy wechatpay sandbox --dir ./keys': one
sandbox answers each merchant with its own keys.
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
		{c.Files.APIv2Key, "APIv2 key (mode 0600): apiv2_key signs the coupon and payscore front-end forms"},
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
	if c.APIv2Key != "" {
		keyPath, _ := filepath.Abs(c.Path(c.Files.APIv2Key))
		fmt.Fprintf(out, "\nTo sign the coupon and payscore front-end forms, add to the wechatpay block\n  apiv2_key \"{file.%s}\"\n", keyPath)
	}
	return nil
}

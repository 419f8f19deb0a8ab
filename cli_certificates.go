package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// certificatesCommand is `caddy wechatpay certificates`: the platform
// certificate download the official SDKs ship as a separate tool, run with
// the merchant configuration and storage of a Caddy config.
func certificatesCommand() *cobra.Command {
	var configFile, adapter, merchant string
	cmd := &cobra.Command{
		Use:   "certificates [--config <file>] [--adapter <name>] [--merchant <name>]",
		Short: "Download a merchant's WeChat Pay platform certificates now and show them",
		Long: `
Reads the Caddy config (as 'caddy run' does: --config, else ./Caddyfile), and
for each merchant of the global wechatpay app that downloads platform
certificates (apiv3_key set, no platform_certificate) downloads them once
from WeChat Pay, decrypts and checks them, stores them in the config's
storage (the 'storage' global option; the file system by default) and prints
each certificate's serial and validity, and where the set was stored.
A running Caddy using the same storage picks the set up at its next refresh.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := clicmd.Interruptible(cmd.Context())
			defer stop()
			return runCertificates(ctx, cmd.OutOrStdout(), configFile, adapter, merchant)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&configFile, "config", "c", "", "configuration file (default ./Caddyfile)")
	fl.StringVarP(&adapter, "adapter", "a", "", "name of the config adapter")
	fl.StringVar(&merchant, "merchant", "", "only this merchant (default: every merchant that downloads)")
	return cmd
}

// runCertificates downloads the certificates of the merchants of the
// config and reports them on out.
func runCertificates(ctx context.Context, out io.Writer, configFile, adapter, only string) error {
	raw, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return err
	}
	var cfg struct {
		Storage json.RawMessage            `json:"storage"`
		Apps    map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("reading the config: %w", err)
	}
	app := new(App)
	if cfg.Apps["wechatpay"] != nil {
		if err := json.Unmarshal(cfg.Apps["wechatpay"], app); err != nil {
			return fmt.Errorf("the wechatpay app config: %w", err)
		}
	}
	if len(app.Merchants) == 0 {
		return errors.New("the config defines no merchant (global option wechatpay { merchant <name> { ... } })")
	}
	if only != "" && app.Merchants[only] == nil {
		return fmt.Errorf("merchant %q is not in the config (defined: %v)", only, app.names())
	}
	cctx, err := caddy.ProvisionContext(&caddy.Config{StorageRaw: cfg.Storage})
	if err != nil {
		return fmt.Errorf("setting up storage: %w", err)
	}
	storage, logger := cctx.Storage(), zap.NewNop()

	var failed []error
	for _, name := range app.names() {
		if only != "" && name != only {
			continue
		}
		m := app.Merchants[name]
		if err := m.provision(name, storage, logger); err != nil {
			failed = append(failed, fmt.Errorf("merchant %s: %w", name, err))
			continue
		}
		fmt.Fprintf(out, "merchant %s (mchid %s)\n", name, m.currentSigner().MchID)
		if m.certs == nil {
			fmt.Fprintln(out, "  downloads no platform certificate (no apiv3_key, a platform_certificate is configured, or download_certificates off)")
			continue
		}
		res, err := m.certs.refresh(ctx, true)
		if err != nil {
			fmt.Fprintf(out, "  download failed: %v\n", err)
			failed = append(failed, fmt.Errorf("merchant %s: %w", name, err))
			continue
		}
		if res == refreshNotFound {
			fmt.Fprintln(out, "  WeChat Pay has no platform certificate for this merchant (404 RESOURCE_NOT_EXISTS): it uses the WeChat Pay public key")
		}
		for _, c := range m.platformCertificates() {
			fmt.Fprintf(out, "  serial %s  valid %s to %s\n", c.Serial,
				c.NotBefore().UTC().Format(time.RFC3339), c.NotAfter().UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(out, "  stored in %s\n", storageLocation(storage, certstore.Key(m.currentSigner().MchID)))
	}
	return errors.Join(failed...)
}

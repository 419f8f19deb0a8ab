package devtools

import (
	"errors"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/spf13/cobra"
)

func notifyCommand() *cobra.Command {
	var o demo.NotifyOptions
	var faults []string
	cmd := &cobra.Command{
		Use:   "notify <url> [--dir <dir>] [--event <event_type>] [--resource <file.json>] [--id <id>] [--fault <name>]...",
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
unknown-serial, probe-signature, omit-signature. --id sends the notification
id given: the id of an earlier send (printed after it) resends it as WeChat
Pay does, with a fresh signature, to see the route answer 204 without
calling the app again (dedup).

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
			ctx, stop := clicmd.Interruptible(cmd.Context())
			defer stop()
			return demo.SendNotify(ctx, cmd.OutOrStdout(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", demo.DefaultDir, "directory of the throwaway credentials (generated when empty)")
	fl.StringVar(&o.Event, "event", sandbox.EventTransactionSuccess, "event_type of the callback: "+strings.Join(sandbox.NotificationEvents(), ", "))
	fl.StringVar(&o.ResourceFile, "resource", "", "file holding the JSON object to send as the resource, instead of the sample")
	fl.StringVar(&o.ID, "id", "", "notification id to send: the id of an earlier send resends it, to test the route's deduplication")
	fl.StringArrayVar(&faults, "fault", nil, "forge the callback's signature (repeatable): wrong-key, stale-timestamp, unknown-serial, probe-signature, omit-signature")
	return cmd
}

// sandboxOptions are the flags of `caddy wechatpay sandbox`.

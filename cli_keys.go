package wechatpay

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clockskew"
)

func keysCommand() *cobra.Command {
	var address, config, adapter string
	var reload bool
	cmd := &cobra.Command{
		Use:   "keys [--reload] [--address <admin>] [--config <file> [--adapter <name>]]",
		Short: "List the keys a running Caddy uses, or reload them from their files",
		Long: `
Asks a running Caddy, through its admin API, which keys its wechatpay
merchants and handlers use: merchant number, merchant certificate serial,
the WeChat Pay key that encrypts, and every WeChat Pay key answers verify
under (identifiers only, never key material). Where merchant_certificate
is set, it also prints when the merchant API certificate expires, with a
warning once less than 30 days are left.

With --reload, Caddy first reads every key again from the files the
configuration names and puts them in use all at once, or, if one fails,
changes nothing; no server restarts and no connection is closed. Replace
the key files first (write the new file next to the old one, then mv it).
Exits non-zero when the reload fails.

The admin address is --address, else the one in --config, else Caddy's
default (localhost:2019), as for 'caddy reload'.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := caddycmd.DetermineAdminAPIAddress(address, nil, config, adapter)
			if err != nil {
				return err
			}
			return adminKeys(cmd.OutOrStdout(), addr, reload)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&reload, "reload", false, "read every key again from its files and use the new keys")
	fl.StringVar(&address, "address", "", "address of Caddy's admin API")
	fl.StringVar(&config, "config", "", "configuration file to read the admin address from")
	fl.StringVar(&adapter, "adapter", "", "adapter of --config")
	return cmd
}

// adminKeys lists the keys in use at the admin API at addr, or reloads them
// first, and prints one line per holder.
func adminKeys(out io.Writer, addr string, reload bool) error {
	method, uri := http.MethodGet, "/wechatpay/keys"
	if reload {
		method, uri = http.MethodPost, "/wechatpay/keys/reload"
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, nil, nil)
	if err != nil {
		if adminStatus(err) == http.StatusNotFound {
			return fmt.Errorf("%w (is that Caddy built with the wechatpay module?)", err)
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var reports []keysReport
	if err := json.Unmarshal(body, &reports); err != nil {
		return fmt.Errorf("%s %s: %w", method, uri, err)
	}
	if len(reports) == 0 {
		fmt.Fprintln(out, "no wechatpay keys are configured")
		return nil
	}
	defer printClock(out, addr)
	for _, r := range reports {
		fmt.Fprintln(out, r.Holder)
		if r.MchID != "" {
			fmt.Fprintf(out, "  signs as    mchid %s, serial_no %s\n", r.MchID, r.SerialNo)
		}
		if r.MerchantCertificate != nil {
			fmt.Fprintf(out, "  certificate %s\n", describeMerchantCertificate(*r.MerchantCertificate, time.Now()))
		}
		if r.WechatPaySerial != "" {
			fmt.Fprintf(out, "  encrypts    %s\n", r.WechatPaySerial)
		}
		if len(r.WechatPayKeys) == 0 {
			fmt.Fprintln(out, "  verifies    nothing: "+noWechatPayKey)
		} else {
			fmt.Fprintf(out, "  verifies    %s\n", strings.Join(r.WechatPayKeys, ", "))
		}
		if r.Changed != nil {
			state := "unchanged"
			if *r.Changed {
				state = "changed"
			}
			fmt.Fprintf(out, "  reloaded    %s\n", state)
		}
	}
	return nil
}

// noWechatPayKey is what the keys command says of a holder with no WeChat
// Pay key: a merchant whose platform certificates are not downloaded yet.
const noWechatPayKey = "NO WeChat Pay key yet: requests are answered 503 until platform certificates are downloaded (the log says why they are not); configure public_key_id and public_key, or run caddy wechatpay certificates"

// adminStatusRE reads the status out of AdminAPIRequest's error, the only
// place it reports one: for a status of 400 or more it answers no response
// and the error "caddy responded with error: HTTP <status>: <body>".
var adminStatusRE = regexp.MustCompile(`^caddy responded with error: HTTP (\d{3}): `)

// adminStatus returns the HTTP status an AdminAPIRequest error reports, or
// 0 when the request got no response at all.
func adminStatus(err error) int {
	m := adminStatusRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	status, _ := strconv.Atoi(m[1])
	return status
}

// printClock prints the clock offset the running Caddy measured, or why
// there is none.
func printClock(out io.Writer, addr string) {
	resp, err := caddycmd.AdminAPIRequest(addr, http.MethodGet, "/wechatpay/clock", nil, nil)
	if err != nil {
		fmt.Fprintf(out, "clock: not measured (%v)\n", err)
		return
	}
	defer resp.Body.Close()
	var c clockskew.Report
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&c); err != nil {
		fmt.Fprintf(out, "clock: not measured (%v)\n", err)
		return
	}
	if c.MeasuredAt == nil {
		fmt.Fprintln(out, "clock: not measured yet (no response or callback verified since start)")
		return
	}
	fmt.Fprintf(out, "clock: this host is %s (from %d verified signatures, the last at %s)\n",
		clockskew.Describe(c.OffsetSeconds), c.Samples, c.MeasuredAt.Format(time.RFC3339))
}

// describeMerchantCertificate describes the merchant API certificate for
// the keys command: its serial, when it expires and how long is left (by
// now, this host's clock), with a warning when it has expired or expires
// within merchantCertificateWarning, as Caddy's log warns at start: WeChat
// Pay refuses every request signed under an expired certificate.
func describeMerchantCertificate(c merchantCertificateReport, now time.Time) string {
	const renew = "renew it in the merchant platform, update private_key, serial_no and merchant_certificate, then run caddy wechatpay keys --reload"
	left := c.NotAfter.Sub(now)
	at := c.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		return fmt.Sprintf("serial %s, EXPIRED %s (%s ago): WARNING: WeChat Pay refuses every request signed under it; %s",
			c.Serial, at, wholeDays(-left), renew)
	case left < merchantCertificateWarning:
		return fmt.Sprintf("serial %s, expires %s (%s left): WARNING: %s", c.Serial, at, wholeDays(left), renew)
	default:
		return fmt.Sprintf("serial %s, expires %s (%s left)", c.Serial, at, wholeDays(left))
	}
}

// wholeDays writes d in whole days, rounded down: "less than a day",
// "1 day", "12 days".
func wholeDays(d time.Duration) string {
	switch n := int64(d / (24 * time.Hour)); n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	default:
		return strconv.FormatInt(n, 10) + " days"
	}
}

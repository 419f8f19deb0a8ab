package wechatpay

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("wechatpay", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("wechatpay", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	wechatpay {
//		merchant             <name>                     # a merchant of the global wechatpay app, instead of the key options
//		mchid                <merchant number>
//		serial_no            <merchant certificate serial>
//		private_key          <path or PEM>
//		merchant_certificate <path or PEM>              # apiclient_cert.pem, optional: checked, expiry in the metrics
//		public_key_id        <PUB_KEY_ID_...>
//		public_key           <path or PEM>
//		platform_certificate <path or PEM>              # repeatable
//		encrypt              [replace] <METHOD> <path> <field>... # repeatable; query:<name> for a query parameter
//		catalog              on|off
//		decrypt_responses    [on|off]
//		request_payment      [on|off]                   # sign the WeChat client's payment invocation
//		apiv2_key            <{env.X} or {file./path}>  # sign coupon and payscore front-end forms
//		max_body             <size>
//		max_bill_size        <size>                     # largest bill download checked; default 4GiB
//		wechatpay_serial     <public key ID or certificate serial>
//		verify_responses     on|off
//		skip_verify          <path prefix>...           # repeatable
//		allow_paths          <path prefix>...           # repeatable
//		allow_hosts          <name>...                  # repeatable; names apps use in Host on plain HTTP
//	}
//
// Values may use placeholders such as {env.WECHATPAY_PRIVATE_KEY} or
// {file./etc/wechatpay/apiclient_key.pem}; they are resolved at start. The
// parser checks what it needs to read the tokens (an option's arguments,
// an option given twice, on|off, a size, encrypt's form) and maps them to
// fields; what the values must be (keys, paths, bounds) is checked when
// Caddy provisions the handler, the same for a JSON configuration.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		option := d.Val()
		single := func(dst *string) (err error) {
			*dst, err = singleValue(d, option, seen)
			return err
		}
		handled, err := h.WechatPayKeys.unmarshalOption(d, option, seen)
		if handled {
			if err != nil {
				return err
			}
			continue
		}
		switch option {
		case "merchant":
			err = single(&h.Merchant)
		case "mchid":
			err = single(&h.MchID)
		case "serial_no":
			err = single(&h.SerialNo)
		case "private_key":
			err = single(&h.PrivateKey)
		case "merchant_certificate":
			err = single(&h.MerchantCertificate)
		case "encrypt":
			args := d.RemainingArgs()
			replace := len(args) > 0 && args[0] == "replace"
			if replace {
				args = args[1:]
			}
			if len(args) < 3 {
				return d.Errf("encrypt needs a method, a path and at least one field: encrypt [replace] <METHOD> <path> <field>...")
			}
			rule := EncryptRule{Method: strings.ToUpper(args[0]), Path: args[1], Replace: replace}
			for _, f := range args[2:] {
				if name, ok := strings.CutPrefix(f, "query:"); ok {
					if name == "" {
						return d.Errf("encrypt: %q names no query parameter", f)
					}
					rule.Query = append(rule.Query, name)
					continue
				}
				rule.Fields = append(rule.Fields, f)
			}
			h.Encrypt = append(h.Encrypt, rule)
		case "max_body":
			var v string
			if err = single(&v); err == nil {
				h.MaxBody, err = parseMaxBody(d, v, "1MiB or 512KB")
			}
		case "max_bill_size":
			var v string
			if err = single(&v); err == nil {
				size, perr := humanize.ParseBytes(v)
				if perr != nil || size == 0 || size > 1<<50 {
					return d.Errf("max_bill_size: %q is not a size such as 4GiB or 500MB", v)
				}
				h.MaxBillSize = int64(size)
			}
		case "verify_responses":
			var v string
			if err = single(&v); err == nil {
				on, ok := onOff(v)
				if !ok {
					return d.Errf("verify_responses: want on or off, got %q", v)
				}
				h.VerifyResponses = &on
			}
		case "catalog":
			var v string
			if err = single(&v); err == nil {
				on, ok := onOff(v)
				if !ok {
					return d.Errf("catalog: want on or off, got %q", v)
				}
				h.Catalog = &on
			}
		case "decrypt_responses":
			err = flag(d, option, seen, &h.DecryptResponses)
		case "request_payment":
			err = flag(d, option, seen, &h.RequestPayment)
		case "apiv2_key":
			if err = single(&h.APIv2Key); err == nil {
				if perr := checkAPIv2Placeholder(h.APIv2Key); perr != nil {
					return d.Err(perr.Error())
				}
			}
		case "allow_paths":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.AllowPaths = append(h.AllowPaths, args...)
		case "allow_hosts":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.AllowHosts = append(h.AllowHosts, args...)
		case "skip_verify":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.SkipVerify = append(h.SkipVerify, args...)
		default:
			return d.Errf("unrecognized wechatpay option %q", option)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)

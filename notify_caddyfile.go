package wechatpay

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("wechatpay_notify", parseNotifyCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("wechatpay_notify", httpcaddyfile.Before, "reverse_proxy")
}

func parseNotifyCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(NotifyHandler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	wechatpay_notify {
//		merchant             <name>                   # a merchant of the global wechatpay app, instead of the key options
//		apiv3_key            <key placeholder>        # e.g. {env.WECHATPAY_APIV3_KEY}
//		public_key_id        <PUB_KEY_ID_...>
//		public_key           <path or PEM>
//		platform_certificate <path or PEM>            # repeatable
//		max_body             <size>                   # default 64KiB
//		dedup                on|off                   # default on
//	}
//
// Values may use placeholders such as {env.WECHATPAY_APIV3_KEY} or
// {file./etc/wechatpay/apiv3_key.txt}; they are resolved at start.
func (h *NotifyHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		option := d.Val()
		if option == "wechatpay_serial" {
			return d.Errf("wechatpay_serial has no meaning for wechatpay_notify: callbacks verify under any configured key")
		}
		handled, err := h.WechatPayKeys.unmarshalOption(d, option, seen)
		if handled {
			if err != nil {
				return err
			}
			continue
		}
		switch option {
		case "merchant", "apiv3_key", "max_body", "dedup":
		default:
			return d.Errf("unrecognized wechatpay_notify option %q", option)
		}
		v, err := singleValue(d, option, seen)
		if err != nil {
			return err
		}
		switch option {
		case "merchant":
			h.Merchant = v
		case "apiv3_key":
			h.APIv3Key = v
		case "max_body":
			if h.MaxBody, err = parseMaxBody(d, v, "64KiB or 1MiB"); err != nil {
				return err
			}
		case "dedup":
			on, ok := onOff(v)
			if !ok {
				return d.Errf("dedup: want on or off, got %q", v)
			}
			h.Dedup = &on
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*NotifyHandler)(nil)

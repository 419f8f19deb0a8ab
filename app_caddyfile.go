package wechatpay

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("wechatpay", parseAppOption)
}

// parseAppOption parses the `wechatpay` global option into the wechatpay
// app. Syntax:
//
//	wechatpay {
//		merchant <name> {
//			mchid                 <merchant number>
//			serial_no             <merchant certificate serial>
//			private_key           <path or PEM>
//			merchant_certificate  <path or PEM>   # apiclient_cert.pem, optional
//			apiv3_key             <key, as {env.X} or {file./path}>
//			apiv2_key             <{env.X} or {file./path} only>  # signs coupon and payscore front-end forms
//			public_key_id         <PUB_KEY_ID_...>
//			public_key            <path or PEM>
//			platform_certificate  <path or PEM>   # repeatable
//			wechatpay_serial      <public key ID or certificate serial>
//			download_certificates on|off
//			certificates_url      <base URL>...   # tried in order
//			refresh_interval      <duration>
//		}
//	}
//
// merchant is repeatable; several wechatpay blocks add up.
func parseAppOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := &App{Merchants: map[string]*Merchant{}}
	if prev, ok := existing.(httpcaddyfile.App); ok {
		if err := json.Unmarshal(prev.Value, app); err != nil {
			return nil, err
		}
		if app.Merchants == nil {
			app.Merchants = map[string]*Merchant{}
		}
	}
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		if d.Val() != "merchant" {
			return nil, d.Errf("unrecognized wechatpay option %q; want merchant <name> { ... }", d.Val())
		}
		if !d.NextArg() {
			return nil, d.ArgErr()
		}
		name := d.Val()
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		if _, dup := app.Merchants[name]; dup {
			return nil, d.Errf("merchant %s defined twice", name)
		}
		m := new(Merchant)
		if err := m.unmarshalCaddyfile(d); err != nil {
			return nil, err
		}
		app.Merchants[name] = m
	}
	return httpcaddyfile.App{Name: "wechatpay", Value: caddyconfig.JSON(app, nil)}, nil
}

// unmarshalCaddyfile reads a merchant's block.
func (m *Merchant) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		handled, err := m.WechatPayKeys.unmarshalOption(d, option, seen)
		if handled {
			if err != nil {
				return err
			}
			continue
		}
		if option == "certificates_url" {
			urls, err := listValue(d, option, seen)
			if err != nil {
				return err
			}
			m.CertificatesURL = urls
			continue
		}
		v, err := singleValue(d, option, seen)
		if err != nil {
			return err
		}
		switch option {
		case "mchid":
			m.MchID = v
		case "serial_no":
			m.SerialNo = v
		case "private_key":
			m.PrivateKey = v
		case "merchant_certificate":
			m.MerchantCertificate = v
		case "apiv3_key":
			m.APIv3Key = v
		case "apiv2_key":
			if err := checkAPIv2Placeholder(v); err != nil {
				return d.Err(err.Error())
			}
			m.APIv2Key = v
		case "download_certificates":
			on, ok := onOff(v)
			if !ok {
				return d.Errf("download_certificates: want on or off, got %q", v)
			}
			m.DownloadCertificates = &on
		case "refresh_interval":
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("refresh_interval: %q is not a duration such as 6h", v)
			}
			m.RefreshInterval = caddy.Duration(dur)
		default:
			return d.Errf("unrecognized merchant option %q", option)
		}
	}
	return nil
}

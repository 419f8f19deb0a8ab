package wechatpay

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// singleValue reads the one argument of a Caddyfile option that may be given
// once per block, recording it in seen.
func singleValue(d *caddyfile.Dispenser, option string, seen map[string]bool) (string, error) {
	if seen[option] {
		return "", d.Errf("%s given more than once", option)
	}
	seen[option] = true
	var v string
	if !d.AllArgs(&v) {
		return "", d.ArgErr()
	}
	return v, nil
}

// listValue reads the one or more arguments of a Caddyfile option that may
// be given once per block, recording it in seen.
func listValue(d *caddyfile.Dispenser, option string, seen map[string]bool) ([]string, error) {
	if seen[option] {
		return nil, d.Errf("%s given more than once", option)
	}
	seen[option] = true
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

// onOff reads an on|off value.
func onOff(v string) (on, ok bool) {
	switch v {
	case "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}

// flag reads an option that is on when written alone, or on|off.
func flag(d *caddyfile.Dispenser, option string, seen map[string]bool, dst *bool) error {
	if seen[option] {
		return d.Errf("%s given more than once", option)
	}
	seen[option] = true
	*dst = true
	if d.NextArg() {
		on, ok := onOff(d.Val())
		if !ok {
			return d.Errf("%s: want on or off, got %q", option, d.Val())
		}
		*dst = on
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Command caddybin is Caddy v2 with its standard modules and the wechatpay
// handler, built from this working tree: what ./xcaddy.sh produces, compiled
// with the versions of go.mod so that `go run ./bench` can (re)build it in
// seconds from the build cache. The benchmark runs both the plain
// reverse_proxy row and the module row on this one binary.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddy-wechatpay/caddy-wechatpay"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() { caddycmd.Main() }

// Command caddybin is Caddy v2 with its standard modules and the wechatpay
// handler, built from this working tree: what ./xcaddy.sh produces, compiled
// with the versions of go.mod so that `go run ./bench` can (re)build it in
// seconds from the build cache. The benchmark runs the plain reverse_proxy
// row, the ideal row and the module row on this one binary; it also holds the
// bench-only handler of the ideal row (bench/idealhandler,
// http.handlers.bench_ideal), which only a config that names it uses.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddy-wechatpay/caddy-wechatpay"
	_ "github.com/caddy-wechatpay/caddy-wechatpay/bench/idealhandler"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() { caddycmd.Main() }

package wechatpay

import _ "embed" // for ExampleCaddyfile

// ExampleCaddyfile is the text of Caddyfile.example: a proxy on
// 127.0.0.1:9180 that takes its credentials from the WECHATPAY_* environment
// variables and forwards to https://api.mch.weixin.qq.com. The
// `caddy wechatpay demo` command runs it against the local sandbox.
//
//go:embed Caddyfile.example
var ExampleCaddyfile string

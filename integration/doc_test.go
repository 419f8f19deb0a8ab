// Package integration runs the wechatpay module inside a real Caddy
// (caddytest: one Caddy per test process, so these tests never run in
// parallel) against stand-ins for WeChat Pay and for the app, configured
// only through Caddyfiles and the admin API, as a user would.
package integration

import _ "github.com/caddy-wechatpay/caddy-wechatpay" // the modules under test

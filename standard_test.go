package wechatpay

// The tests adapt and provision configurations that use Caddy's standard
// modules (reverse_proxy, the file_system storage), as every Caddy build
// has them.
import _ "github.com/caddyserver/caddy/v2/modules/standard"

// Package devtools adds the developer commands to `caddy wechatpay`: demo
// (the whole chain against a local WeChat Pay simulator), sandbox (the
// simulator), keygen (a throwaway credential set) and notify (a signed,
// encrypted callback). ./xcaddy.sh builds Caddy with it; a production build,
// `xcaddy build --with github.com/caddy-wechatpay/caddy-wechatpay`, leaves
// it out, so that no Caddy in production carries a fake WeChat Pay or a
// key generator.
package devtools

import (
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
)

func init() {
	clicmd.Register(demoCommand)
	clicmd.Register(sandboxCommand)
	clicmd.Register(keygenCommand)
	clicmd.Register(notifyCommand)
}

// Package wechatpay is a Caddy module that lets any application talk to
// WeChat Pay APIv3 (微信支付 APIv3) in plain JSON, through a local reverse
// proxy. It adds three modules to Caddy:
//
//   - [Handler], http.handlers.wechatpay (Caddyfile directive wechatpay,
//     ordered before reverse_proxy): encrypts the request fields WeChat Pay
//     marks sensitive (RSA-OAEP with the WeChat Pay public key or platform
//     certificate), sets Wechatpay-Serial, signs the request with the
//     merchant key (Authorization: WECHATPAY2-SHA256-RSA2048 ...) for the
//     reverse_proxy after it, and verifies WeChat Pay's signed response
//     before the app sees a byte of it. Every APIv3 endpoint whose
//     documentation marks fields as encrypted is built in.
//   - [NotifyHandler], http.handlers.wechatpay_notify (directive
//     wechatpay_notify): receives WeChat Pay's callbacks (回调通知) for the
//     app behind it: verifies, decrypts with the APIv3 key, forwards the
//     plaintext envelope and acknowledges to WeChat Pay.
//   - [App], the wechatpay app (Caddyfile global option wechatpay): merchants
//     configured once ([Merchant]) for both handlers, with platform
//     certificates downloaded, kept in Caddy's storage and refreshed.
//
// The exported fields of these types are their JSON configuration; the
// Caddyfile forms are documented on each UnmarshalCaddyfile. Keys can be
// reloaded without a configuration reload through the admin API
// (POST /wechatpay/keys/reload, or caddy wechatpay keys --reload). The
// modules' Prometheus metrics (caddy_wechatpay_*) are in Caddy's registry,
// served wherever Caddy serves its metrics (docs/metrics.md).
//
// A minimal Caddyfile:
//
//	:9180 {
//		bind 127.0.0.1 # whoever reaches the proxy signs as the merchant
//		wechatpay {
//			mchid         {env.WECHATPAY_MCHID}
//			serial_no     {env.WECHATPAY_SERIAL_NO}
//			private_key   {env.WECHATPAY_PRIVATE_KEY}
//			public_key_id {env.WECHATPAY_PUBLIC_KEY_ID}
//			public_key    {env.WECHATPAY_PUBLIC_KEY}
//		}
//		reverse_proxy https://api.mch.weixin.qq.com
//	}
//
// The user's documentation is the repository's README.md and docs/; the
// WeChat Pay protocol itself lives in internal packages that import
// neither Caddy nor zap.
package wechatpay

import _ "embed" // for ExampleCaddyfile

// ExampleCaddyfile is the text of Caddyfile.example: a proxy on
// 127.0.0.1:9180 that takes its credentials from the WECHATPAY_* environment
// variables and forwards to https://api.mch.weixin.qq.com. The
// `caddy wechatpay demo` command runs it against the local sandbox.
//
//go:embed Caddyfile.example
var ExampleCaddyfile string

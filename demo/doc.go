// Package demo runs the caddy-wechatpay proxy end to end on one machine: it
// starts the sandbox (a local WeChat Pay stand-in) and the proxy from a
// Caddyfile, sends a plaintext request as a legacy app would, and prints what
// reached "WeChat Pay", what it verified and decrypted, and what the app got
// back. Then WeChat Pay calls back through a wechatpay_notify route (step 8),
// and the app uploads a small image as multipart/form-data, which the proxy
// forwards byte for byte, signed over its meta part (step 9). The app takes
// a JSAPI payment: the proxy adds the signed invocation to the prepay
// response, and the simulated WeChat client checks it (step 10). Last, it
// prints the caddy_wechatpay_ series of Caddy's /metrics for those requests
// (step 11), then plays a 校园轻松付 day: presign, the user's signing,
// contract query, 扣款, order query and refunds (step 12); last, the proxy
// signs a coupon plugin form and a payscore detail form with the APIv2 key
// (step 13), and the app downloads yesterday's trade bill, which the
// proxy checks against WeChat Pay's signed SHA1 (step 14). It backs the `caddy wechatpay demo` command.
//
// The package does not import the wechatpay module itself: the caller must
// link it in (the caddy binary does; a test imports it with a blank import),
// together with Caddy's standard modules.
//
// It also holds the helpers the other `caddy wechatpay` commands share:
// [CaddyfileEnv], [ParseFaults] and [CheckLoopback].
package demo

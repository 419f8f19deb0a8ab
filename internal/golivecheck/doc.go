// Package golivecheck is the logic of `caddy wechatpay check`, free of
// Caddy: the one signed, read-only call to WeChat Pay (GET
// /v3/certificates) that shows whether WeChat Pay accepts a merchant's
// signature and whether the configured WeChat Pay keys verify its answer;
// the clock skew against WeChat Pay's Date; the backup domain's TLS
// handshake; the hints drawn from WeChat Pay's refusal; and the report,
// one verdict line per check, as text or JSON.
//
// Nothing it prints or returns holds key material: serials, public key
// IDs, WeChat Pay's code and message, never a key, a signature or an
// Authorization header.
package golivecheck

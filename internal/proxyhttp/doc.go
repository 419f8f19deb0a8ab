// Package proxyhttp holds the HTTP plumbing of the wechatpay handler that
// knows nothing of Caddy: reading a request body within a bound (decoded,
// pooled), the trust boundary (no browser, no rebound name), refusing the
// body types a web page can send unasked, and checking that a path is a
// plain WeChat Pay APIv3 path. What it turns away it reports as a Refusal,
// which the handler answers as its own.
package proxyhttp

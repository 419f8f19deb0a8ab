// Package platformcert downloads a merchant's WeChat Pay platform
// certificates (平台证书) from GET /v3/certificates: the signed request, the
// AES-256-GCM decryption of each certificate under the APIv3 key, the
// answer's verification (by the configured WeChat Pay public key, or by a
// certificate it carries or one already trusted), and the rules that keep a
// set of certificates: unexpired only, one per serial, newest first.
package platformcert

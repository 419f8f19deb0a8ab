// Package bill checks the bill files WeChat Pay serves for download against
// the digest its signed answer named: it finds the download records in a
// verified answer (any object with download_url, hash_type and hash_value,
// and for an encrypted bill encrypt_key and nonce), spools a download
// (memory up to a small bound, then a temporary file), decrypts an
// encrypted bill (AES-256-GCM under the key the merchant's private key
// opens, the record's nonce, empty associated data) and compares the SHA1
// of the bill with the record's hash_value.
//
// It imports neither Caddy nor zap: the handler in the root package glues
// it to Caddy's storage and reverse_proxy.
package bill

package testkit

import "regexp"

// AuthorizationRE matches an Authorization header of WeChat Pay APIv3's form;
// its groups are mchid, nonce_str, signature, timestamp and serial_no.
var AuthorizationRE = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="([0-9A-Za-z]{32})",signature="([A-Za-z0-9+/=]+)",timestamp="(\d+)",serial_no="([0-9A-F]+)"$`)

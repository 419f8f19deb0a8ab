package apiv3

// PublicKeyIDPrefix starts every WeChat Pay public key ID; any other
// Wechatpay-Serial value is a platform certificate serial.
const PublicKeyIDPrefix = "PUB_KEY_ID_"

package apiv3

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// JSAPIInvocation is the object the WeChat client takes to open the
// payment sheet of a JSAPI (公众号, WeixinJSBridge getBrandWCPayRequest) or
// mini program (wx.requestPayment) payment: its keys, spelling and order are
// the client API's, every value a string.
type JSAPIInvocation struct {
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// APPInvocation is the object an APP hands the OpenSDK (PayReq) to open the
// payment sheet: keys and spelling as the OpenSDK takes them.
type APPInvocation struct {
	AppID     string `json:"appid"`
	PartnerID string `json:"partnerid"`
	PrepayID  string `json:"prepayid"`
	Package   string `json:"package"`
	NonceStr  string `json:"noncestr"`
	TimeStamp string `json:"timestamp"`
	Sign      string `json:"sign"`
}

// InvocationError says which input of an invocation signature is not of the
// form WeChat Pay issues. It quotes no value.
type InvocationError struct {
	Field, Reason string
}

func (e *InvocationError) Error() string { return e.Field + ": " + e.Reason }

// SignJSAPI signs the JSAPI / mini program invocation of prepayID for the
// app appID, at unix time timestamp with nonce: SHA256withRSA with the
// merchant API key over appId, timeStamp, nonceStr and "prepay_id=<id>",
// each line ending in "\n".
//
// Every input is checked first (appID [A-Za-z0-9_]{1,32}, prepayID
// [A-Za-z0-9_-]{1,64}, nonce [0-9A-Za-z]{1,32}), so the signed message is
// always those four lines and can never be the five-line message of an API
// request, whatever an app sends.
func SignJSAPI(key *rsacrypto.PrivateKey, appID, prepayID string, timestamp int64, nonce string) (JSAPIInvocation, error) {
	if err := checkInvocation(appID, prepayID, nonce, timestamp); err != nil {
		return JSAPIInvocation{}, err
	}
	inv := JSAPIInvocation{AppID: appID, TimeStamp: strconv.FormatInt(timestamp, 10), NonceStr: nonce,
		Package: "prepay_id=" + prepayID, SignType: "RSA"}
	sig, err := signLines(key, inv.AppID, inv.TimeStamp, inv.NonceStr, inv.Package)
	if err != nil {
		return JSAPIInvocation{}, err
	}
	inv.PaySign = sig
	return inv, nil
}

// SignAPP signs the APP invocation of prepayID for the app appID and the
// merchant partnerID (the 商户号 that placed the order: mchid, sub_mchid or
// combine_mchid): SHA256withRSA over appid, timestamp, noncestr and
// prepayid, each line ending in "\n". Inputs are checked as in SignJSAPI,
// and partnerID must be digits.
func SignAPP(key *rsacrypto.PrivateKey, appID, partnerID, prepayID string, timestamp int64, nonce string) (APPInvocation, error) {
	if err := checkInvocation(appID, prepayID, nonce, timestamp); err != nil {
		return APPInvocation{}, err
	}
	if !matches(partnerID, 32, digit) {
		return APPInvocation{}, &InvocationError{"partnerid", "must be a merchant number: 1 to 32 digits"}
	}
	inv := APPInvocation{AppID: appID, PartnerID: partnerID, PrepayID: prepayID, Package: "Sign=WXPay",
		NonceStr: nonce, TimeStamp: strconv.FormatInt(timestamp, 10)}
	sig, err := signLines(key, inv.AppID, inv.TimeStamp, inv.NonceStr, inv.PrepayID)
	if err != nil {
		return APPInvocation{}, err
	}
	inv.Sign = sig
	return inv, nil
}

func checkInvocation(appID, prepayID, nonce string, timestamp int64) error {
	switch {
	case !matches(appID, 32, func(c byte) bool { return alnum(c) || c == '_' }):
		return &InvocationError{"appid", "must be 1 to 32 characters of A-Z, a-z, 0-9 and _"}
	case !matches(prepayID, 64, func(c byte) bool { return alnum(c) || c == '_' || c == '-' }):
		return &InvocationError{"prepay_id", "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"}
	case !matches(nonce, 32, alnum):
		return &InvocationError{"nonce", "must be 1 to 32 characters of A-Z, a-z and 0-9"}
	case timestamp <= 0:
		return &InvocationError{"timestamp", "must be a positive unix time"}
	}
	return nil
}

// signLines signs the lines, each followed by "\n", and returns the
// signature in standard base64.
func signLines(key *rsacrypto.PrivateKey, lines ...string) (string, error) {
	var head []byte
	for _, l := range lines[:len(lines)-1] {
		head = append(append(head, l...), '\n')
	}
	var sum [sha256.Size]byte
	sig, err := key.SignPKCS1v15SHA256(messageDigest(head, []byte(lines[len(lines)-1]), &sum))
	if err != nil {
		return "", fmt.Errorf("signing the invocation: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func matches(s string, max int, ok func(byte) bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func digit(c byte) bool { return '0' <= c && c <= '9' }

func alnum(c byte) bool { return digit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

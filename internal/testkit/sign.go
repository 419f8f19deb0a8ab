package testkit

import (
	"crypto/rsa"
	"net/http"
	"strconv"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// SignWechatPay sets on h the signature headers WeChat Pay puts on a
// response or callback: SHA256withRSA over "timestamp\nnonce\nbody\n" made
// by the official SDK's signer with key, and serial naming it. signature,
// when set, replaces the computed one (a probe, a forgery).
func SignWechatPay(t testing.TB, h http.Header, key *rsa.PrivateKey, serial string, ts int64, nonce string, body []byte, signature string) {
	t.Helper()
	tsText := strconv.FormatInt(ts, 10)
	sig, err := utils.SignSHA256WithRSA(tsText+"\n"+nonce+"\n"+string(body)+"\n", key)
	if err != nil {
		t.Error(err)
	}
	if signature != "" {
		sig = signature
	}
	h.Set("Wechatpay-Timestamp", tsText)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
}

package wechatpay

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// The headers that tell the app whose callback it is, from the decrypted
// resource WeChat Pay signed (a sender's own headers of these names are
// dropped with every other header it sends):
//
//   - mchidHeader: the merchant the callback is for: sp_mchid for a
//     service provider's (服务商) callbacks, else mchid;
//   - subMchidHeader: sub_mchid, the sub-merchant (子商户), in a service
//     provider's callbacks.
//
// The field names are those of WeChat Pay's decrypted resources (the
// official Go SDK's payments.Transaction: mchid; partnerpayments.Transaction:
// sp_mchid, sub_mchid). A value that is not a merchant number (digits, at
// most 32) is left out.
const (
	mchidHeader    = "Wechatpay-Mchid"
	subMchidHeader = "Wechatpay-Sub-Mchid"
)

// callbackMerchants are the merchant numbers of a decrypted resource.
type callbackMerchants struct {
	mchid, subMchid string
}

// merchantsOf reads the merchant numbers of a decrypted resource.
func merchantsOf(plain []byte) callbackMerchants {
	f := gjson.GetManyBytes(plain, "sp_mchid", "mchid", "sub_mchid")
	m := callbackMerchants{mchid: merchantNumber(f[0]), subMchid: merchantNumber(f[2])}
	if m.mchid == "" {
		m.mchid = merchantNumber(f[1])
	}
	return m
}

// merchantNumber returns v when it is a merchant number, else "".
func merchantNumber(v gjson.Result) string {
	if v.Type != gjson.String || v.Str == "" || len(v.Str) > 32 {
		return ""
	}
	for i := 0; i < len(v.Str); i++ {
		if v.Str[i] < '0' || v.Str[i] > '9' {
			return ""
		}
	}
	return v.Str
}

// set puts the merchant numbers in the app's request headers.
func (m callbackMerchants) set(hdr http.Header) {
	for name, v := range map[string]string{mchidHeader: m.mchid, subMchidHeader: m.subMchid} {
		if v != "" {
			hdr.Set(name, v)
		} else {
			hdr.Del(name)
		}
	}
}

package notification

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// The headers that tell the app whose callback it is, from the decrypted
// resource WeChat Pay signed (a sender's own headers of these names are
// dropped with every other header it sends):
//
//   - MchIDHeader: the merchant the callback is for: sp_mchid for a
//     service provider's (服务商) callbacks, else mchid;
//   - SubMchIDHeader: sub_mchid, the sub-merchant (子商户), in a service
//     provider's callbacks.
//
// The field names are those of WeChat Pay's decrypted resources (the
// official Go SDK's payments.Transaction: mchid; partnerpayments.Transaction:
// sp_mchid, sub_mchid). A value that is not a merchant number (digits, at
// most 32) is left out.
const (
	MchIDHeader    = "Wechatpay-Mchid"
	SubMchIDHeader = "Wechatpay-Sub-Mchid"
)

// Merchants are the merchant numbers of a decrypted resource.
type Merchants struct {
	MchID, SubMchID string
}

// MerchantsOf reads the merchant numbers of a decrypted resource.
func MerchantsOf(plain []byte) Merchants {
	f := gjson.GetManyBytes(plain, "sp_mchid", "mchid", "sub_mchid")
	m := Merchants{MchID: merchantNumber(f[0]), SubMchID: merchantNumber(f[2])}
	if m.MchID == "" {
		m.MchID = merchantNumber(f[1])
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

// SetHeaders puts the merchant numbers in the app's request headers.
func (m Merchants) SetHeaders(hdr http.Header) {
	for name, v := range map[string]string{MchIDHeader: m.MchID, SubMchIDHeader: m.SubMchID} {
		if v != "" {
			hdr.Set(name, v)
		} else {
			hdr.Del(name)
		}
	}
}

package bill

import (
	"strings"
	"testing"
	"time"
)

// FuzzFind: any answer gives records whose keys are paths (and queries),
// whose digests are 40 lower-case hex digits of SHA1, and whose encrypted
// ones carry a nonce; nothing panics.
func FuzzFind(f *testing.F) {
	for _, seed := range []string{
		`{"hash_type":"SHA1","hash_value":"79bb0f45fc4c42234a918000b2668d689e2bde04","download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=xxx"}`,
		`{"download_bill_count":1,"download_bill_list":[{"bill_sequence":1,"download_url":"https://api.mch.weixin.qq.com/v3/bill/downloadurl?token=xxx","encrypt_key":"a0YK","hash_type":"SHA1","hash_value":"79bb0f45fc4c42234a918000b2668d689e2bde04","nonce":"a8607ef79034c49c"}]}`,
		`{"a":[{"b":{"download_url":"/x","hash_type":"sha1","hash_value":"79BB0F45FC4C42234A918000B2668D689E2BDE04"}}]}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"download_url":"/deep"}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"download_url":"%zz","hash_type":"SHA1","hash_value":"79bb0f45fc4c42234a918000b2668d689e2bde04"}`,
		`{"download_url":"\u0000","hash_type":"SHA1"`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _ := Find(body, time.Minute, now)
		for _, r := range recs {
			if !strings.HasPrefix(r.Key, "/") || !isSHA1Hex(r.HashValue) || r.Encrypted() && r.Nonce == "" {
				t.Fatalf("record %+v", r)
			}
			if !r.Valid(now) || r.Valid(now.Add(time.Minute)) {
				t.Fatalf("record expires at %v", r.Expires)
			}
		}
	})
}

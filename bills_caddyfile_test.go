package wechatpay

import (
	"strings"
	"testing"
)

func TestCaddyfileMaxBillSize(t *testing.T) {
	assertAdapt(t, `:8080 {
	wechatpay {
		max_bill_size 500MiB
		skip_verify /v3/billdownload/
	}
}
`, `{"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":[{"handle":[
	{"handler":"wechatpay","max_bill_size":524288000,"skip_verify":["/v3/billdownload/"]}
]}]}}}}}`)
	for _, tc := range []struct{ block, want string }{
		{"max_bill_size lots", `max_bill_size: "lots" is not a size such as 4GiB or 500MB`},
		{"max_bill_size 0", `max_bill_size: "0" is not a size`},
		{"max_bill_size", "wrong argument count or unexpected line ending after 'max_bill_size'"},
		{"max_bill_size 1GB\n\t\tmax_bill_size 2GB", "max_bill_size given more than once"},
	} {
		_, err := adaptCaddyfile(t, ":8080 {\n\twechatpay {\n\t\t"+tc.block+"\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.block, err, tc.want)
		}
	}
}

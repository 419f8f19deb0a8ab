package wechatpay

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

func TestScratchAdapt(t *testing.T) {
	in := `:8080 {
	wechatpay {
		mchid 1900000001
		serial_no 3775B6A45ACD588826D15E583A95F5DD12345678
		private_key {env.WECHATPAY_PRIVATE_KEY}
		public_key_id PUB_KEY_ID_0114232134912410000000000000
		public_key {file./etc/wechatpay/pub_key.pem}
		encrypt post /v3/x/{id}/{path} a.#.b c\.d
		max_body 2MiB
	}
}`
	out, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(in), nil)
	var b bytes.Buffer
	json.Indent(&b, out, "", "\t")
	t.Logf("%s\n%v\n%v", b.String(), warn, err)
}

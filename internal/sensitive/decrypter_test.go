package sensitive

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func TestDecryptFields(t *testing.T) {
	d := testDecrypter(t)
	body := `{"bal_account_no":"` + testkit.SealForMerchant(t, "6222<&>\"中文\"") + `","n":101164396123311331,` +
		`"beneficial_owner":[{"beneficial_owner_name":"` + testkit.SealForMerchant(t, "王五") + `"},{"beneficial_owner_name":null},{}],` +
		`"merchant_name":null}`
	fs := mustFields(t, "bal_account_no", "merchant_name", "beneficial_owner.#.beneficial_owner_name")
	out, n, err := d.DecryptFields([]byte(body), fs)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || !json.Valid(out) {
		t.Fatalf("n=%d out=%s", n, out)
	}
	if got := gjson.GetBytes(out, "bal_account_no").Str; got != "6222<&>\"中文\"" {
		t.Errorf("bal_account_no = %q", got)
	}
	if got := gjson.GetBytes(out, "beneficial_owner.0.beneficial_owner_name").Str; got != "王五" {
		t.Errorf("array element = %q", got)
	}
	if !strings.Contains(string(out), `"n":101164396123311331`) || !strings.Contains(string(out), `"merchant_name":null`) {
		t.Errorf("other bytes changed: %s", out)
	}
}

func TestDecryptFieldsRefusals(t *testing.T) {
	d := testDecrypter(t)
	other, _ := utils.EncryptOAEPWithPublicKey("x", &testkit.Creds().WechatPayKey.PublicKey)
	fs := mustFields(t, "a")
	for _, body := range []string{
		`{"a":"not base64!"}`,
		`{"a":"` + other + `"}`,
		`{"a":12}`,
		`{"a":"x","a":"y"}`,
		`[1]`,
		`{"a":`,
	} {
		if out, _, err := d.DecryptFields([]byte(body), fs); err == nil {
			t.Errorf("%s accepted: %s", body, out)
		}
	}
}

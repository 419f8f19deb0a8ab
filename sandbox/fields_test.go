package sandbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func TestDecryptBodyNestedArrays(t *testing.T) {
	body := mustJSON(t, map[string]any{
		"data": []any{
			map[string]any{"user_information": map[string]any{"common_field_list": []any{
				map[string]any{"value": encPub(t, "a0")}, map[string]any{"value": encPub(t, "a1")}}}},
			map[string]any{"user_information": map[string]any{"common_field_list": []any{
				map[string]any{"name": "no value here"}}}},
			map[string]any{"other": 1},
		},
	})
	got, fe := decryptBody(body, []string{"data.#.user_information.common_field_list.#.value", "absent.path"},
		creds.PublicKeyPrivateKey, creds.PublicKeyID)
	if fe != nil {
		t.Fatalf("%+v", fe)
	}
	if len(got) != 2 || got[0].Path != "data.0.user_information.common_field_list.0.value" || got[1].Value != "a1" {
		t.Errorf("%+v", got)
	}
	// A plaintext deep inside an array is named by its concrete path.
	bad := strings.Replace(string(body), `"no value here"`, `"x","value":"plain"`, 1)
	_, fe = decryptBody([]byte(bad), []string{"data.#.user_information.common_field_list.#.value"}, creds.PublicKeyPrivateKey, "k")
	if fe == nil || fe.path != "data.1.user_information.common_field_list.0.value" {
		t.Errorf("plaintext not found: %+v", fe)
	}
}

func TestBuildEncryptedAnswerNestedArrays(t *testing.T) {
	paths := []string{"data.#.phone_number", "data.#.user_information.common_field_list.#.value", "top"}
	obj, err := buildEncryptedAnswer(paths, func(p string) (string, error) {
		return utils.EncryptOAEPWithPublicKey(SampleResponsePlaintext(p), creds.PublicKey)
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(obj)
	for _, p := range []string{"data.1.phone_number", "data.0.user_information.common_field_list.1.value", "top"} {
		pt, err := utils.DecryptOAEP(gjson.GetBytes(raw, p).String(), creds.PublicKeyPrivateKey)
		if err != nil || pt != SampleResponsePlaintext(p) {
			t.Errorf("%s: %q %v", p, pt, err)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	p, err := parseAuthorization(`WECHATPAY2-SHA256-RSA2048 signature="c2ln",serial_no="AB", timestamp="1", nonce_str="n",mchid="19"`)
	if err != nil || p["mchid"] != "19" || p["signature"] != "c2ln" {
		t.Errorf("%v %v", p, err)
	}
	for _, bad := range []string{
		``,
		`WECHATPAY2-SHA256-RSA2048`,
		`Bearer x`,
		`WECHATPAY2-SHA256-RSA2048 mchid="19",nonce_str="n",timestamp="1",serial_no="AB"`,
		`WECHATPAY2-SHA256-RSA2048 mchid="19",mchid="19",nonce_str="n",timestamp="1",serial_no="AB",signature="s"`,
		`WECHATPAY2-SHA256-RSA2048 mchid=19,nonce_str="n",timestamp="1",serial_no="AB",signature="s"`,
	} {
		if _, err := parseAuthorization(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

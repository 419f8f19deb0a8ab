package wechatpay

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
)

// recordedCallbacks is a set of callbacks, valid and not, that both the
// module and the official SDK judge in TestNotifyMatchesSDK.
func recordedCallbacks(t *testing.T) map[string]testkit.Callback {
	c := testkit.Creds()
	otherKeyCT := testkit.SealResource(t, "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts", "abcdefghijkl", "transaction", testkit.Transaction)
	flip := func(b64 string) string {
		raw, _ := base64.StdEncoding.DecodeString(b64)
		raw[len(raw)/2] ^= 0x40
		return base64.StdEncoding.EncodeToString(raw)
	}
	good := testkit.SealResource(t, testkit.APIv3Key, "abcdefghijkl", "transaction", testkit.Transaction)
	raw := func(body string) testkit.CallbackSpec { return testkit.CallbackSpec{RawBody: body} }
	res := `{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"` + good + `"}`
	specs := map[string]testkit.CallbackSpec{
		"valid":                        {},
		"valid, no signature type":     {SigType: "-"},
		"valid, refund":                {EventType: "REFUND.SUCCESS", AssociatedData: "refund", Plaintext: `{"refund_status":"SUCCESS","amount":{"refund":1}}`},
		"valid, empty associated data": {AssociatedData: "-"},
		"valid, unknown fields":        raw(`{"id":"EV-9","new_field":{"x":[1,2]},"resource":` + res + `,"summary":"支付成功"}`),
		"valid, timestamp 4m old":      {TimeShift: -4 * time.Minute},
		"stale":                        {TimeShift: -6 * time.Minute},
		"future":                       {TimeShift: 6 * time.Minute},
		"wrong signing key":            {SignKey: c.PlatformKey},
		"unknown serial":               {Serial: "PUB_KEY_ID_0000000000000000000000000000"},
		"probe signature":              {Signature: "WECHATPAY/SIGNTEST/" + testkit.RandomAlnum(40)},
		"signature not base64":         {Signature: "***"},
		"no signature headers":         {OmitHeaders: true},
		"other signature type":         {SigType: "WECHATPAY2-SM2-WITH-SM3"},
		"body altered after signing": {Tamper: func(b []byte) []byte {
			return bytes.Replace(b, []byte("TRANSACTION.SUCCESS"), []byte("TRANSACTION.REFUSED"), 1)
		}},
		"wrong APIv3 key":          {APIv3Key: "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"},
		"ciphertext of other key":  {Ciphertext: otherKeyCT, Nonce: "abcdefghijkl"},
		"altered ciphertext":       {Ciphertext: flip(good), Nonce: "abcdefghijkl"},
		"other algorithm":          {Algorithm: "AEAD_SM4_GCM"},
		"plaintext is an array":    {Plaintext: `[1,2]`},
		"plaintext is not JSON":    {Plaintext: `mchid=1900000001`},
		"body is not JSON":         raw(`{"id":"EV-1","resource":`),
		"body is an array":         raw(`[` + res + `]`),
		"resource missing":         raw(`{"id":"EV-1"}`),
		"resource null":            raw(`{"id":"EV-1","resource":null}`),
		"nonce too short":          {Nonce: "abcdefghijk"},
		"ciphertext not base64":    {Ciphertext: "%%%%"},
		"bad create_time":          raw(`{"id":"EV-1","create_time":"2015-05-20 13:29:35","resource":` + res + `}`),
		"id missing":               raw(`{"resource":` + res + `}`),
		"id repeated":              raw(`{"id":"EV-1","id":"EV-2","resource":` + res + `}`),
		"event_type not a string":  raw(`{"id":"EV-1","event_type":7,"resource":` + res + `}`),
		"resource field not right": raw(`{"id":"EV-1","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","ciphertext":["x"]}}`),
	}
	out := map[string]testkit.Callback{}
	for name, s := range specs {
		if s.AssociatedData == "-" {
			s.AssociatedData = ""
			s.Ciphertext = testkit.SealResource(t, testkit.APIv3Key, "abcdefghijkl", "", testkit.Transaction)
			s.Nonce = "abcdefghijkl"
			s.RawBody = `{"id":"EV-AD","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"","ciphertext":"` + s.Ciphertext + `"}}`
		}
		out[name] = testkit.BuildCallback(t, s)
	}
	return out
}

// sdkAccepts runs the official SDK's notify handler on a callback; a panic
// (the SDK panics on a nil resource or a nonce GCM cannot take) counts as a
// refusal.
func sdkAccepts(t *testing.T, cb testkit.Callback) (ok bool, why string) {
	c := testkit.Creds()
	h, err := notify.NewRSANotifyHandler(testkit.APIv3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(c.PublicKeyID, c.WechatPayKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/notify", bytes.NewReader(cb.Body))
	for k, v := range cb.Header {
		r.Header[k] = v
	}
	defer func() {
		if v := recover(); v != nil {
			ok, why = false, fmt.Sprint("panic: ", v)
		}
	}()
	content := map[string]any{}
	if _, err := h.ParseNotifyRequest(context.Background(), r, &content); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// TestNotifyMatchesSDK: on the same recorded callbacks, the module accepts
// (forwards) exactly those the official SDK's notify handler accepts, except
// where the module is deliberately stricter.
func TestNotifyMatchesSDK(t *testing.T) {
	stricter := map[string]string{
		"id missing":  "the module needs the id to deduplicate resends",
		"id repeated": "a repeated key could be read one way here and another way by the app",
	}
	h, _ := notifyHandler(t, nil)
	for name, cb := range recordedCallbacks(t) {
		t.Run(name, func(t *testing.T) {
			app := &fakeApp{status: 200}
			w := deliver(t, h, cb, app)
			moduleOK := w.Code == 204
			if moduleOK != (len(app.received()) == 1) {
				t.Fatalf("answered %d but the app got %d calls", w.Code, len(app.received()))
			}
			sdkOK, why := sdkAccepts(t, cb)
			if reason, ok := stricter[name]; ok {
				if !sdkOK || moduleOK {
					t.Errorf("expected the SDK to accept and the module to refuse (%s): sdk %v (%s), module %d %s", reason, sdkOK, why, w.Code, w.Body)
				}
				return
			}
			if moduleOK != sdkOK {
				t.Errorf("module %d %s; SDK accepts=%v (%s)", w.Code, w.Body, sdkOK, why)
			}
			if moduleOK == strings.HasPrefix(name, "valid") {
				return
			}
			t.Errorf("accepted=%v, but the case is named %q", moduleOK, name)
		})
	}
}

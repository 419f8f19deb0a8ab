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
func recordedCallbacks(t *testing.T) map[string]builtCallback {
	c := testkit.Creds()
	otherKeyCT := sealResource(t, "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts", "abcdefghijkl", "transaction", testTransaction)
	flip := func(b64 string) string {
		raw, _ := base64.StdEncoding.DecodeString(b64)
		raw[len(raw)/2] ^= 0x40
		return base64.StdEncoding.EncodeToString(raw)
	}
	good := sealResource(t, testAPIv3Key, "abcdefghijkl", "transaction", testTransaction)
	raw := func(body string) callbackSpec { return callbackSpec{rawBody: body} }
	res := `{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"` + good + `"}`
	specs := map[string]callbackSpec{
		"valid":                        {},
		"valid, no signature type":     {sigType: "-"},
		"valid, refund":                {eventType: "REFUND.SUCCESS", associatedData: "refund", plaintext: `{"refund_status":"SUCCESS","amount":{"refund":1}}`},
		"valid, empty associated data": {associatedData: "-"},
		"valid, unknown fields":        raw(`{"id":"EV-9","new_field":{"x":[1,2]},"resource":` + res + `,"summary":"支付成功"}`),
		"valid, timestamp 4m old":      {timeShift: -4 * time.Minute},
		"stale":                        {timeShift: -6 * time.Minute},
		"future":                       {timeShift: 6 * time.Minute},
		"wrong signing key":            {signKey: c.PlatformKey},
		"unknown serial":               {serial: "PUB_KEY_ID_0000000000000000000000000000"},
		"probe signature":              {signature: "WECHATPAY/SIGNTEST/" + randomAlnum(40)},
		"signature not base64":         {signature: "***"},
		"no signature headers":         {omitHeaders: true},
		"other signature type":         {sigType: "WECHATPAY2-SM2-WITH-SM3"},
		"body altered after signing": {tamper: func(b []byte) []byte {
			return bytes.Replace(b, []byte("TRANSACTION.SUCCESS"), []byte("TRANSACTION.REFUSED"), 1)
		}},
		"wrong APIv3 key":          {apiv3Key: "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"},
		"ciphertext of other key":  {ciphertext: otherKeyCT, nonce: "abcdefghijkl"},
		"altered ciphertext":       {ciphertext: flip(good), nonce: "abcdefghijkl"},
		"other algorithm":          {algorithm: "AEAD_SM4_GCM"},
		"plaintext is an array":    {plaintext: `[1,2]`},
		"plaintext is not JSON":    {plaintext: `mchid=1900000001`},
		"body is not JSON":         raw(`{"id":"EV-1","resource":`),
		"body is an array":         raw(`[` + res + `]`),
		"resource missing":         raw(`{"id":"EV-1"}`),
		"resource null":            raw(`{"id":"EV-1","resource":null}`),
		"nonce too short":          {nonce: "abcdefghijk"},
		"ciphertext not base64":    {ciphertext: "%%%%"},
		"bad create_time":          raw(`{"id":"EV-1","create_time":"2015-05-20 13:29:35","resource":` + res + `}`),
		"id missing":               raw(`{"resource":` + res + `}`),
		"id repeated":              raw(`{"id":"EV-1","id":"EV-2","resource":` + res + `}`),
		"event_type not a string":  raw(`{"id":"EV-1","event_type":7,"resource":` + res + `}`),
		"resource field not right": raw(`{"id":"EV-1","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","ciphertext":["x"]}}`),
	}
	out := map[string]builtCallback{}
	for name, s := range specs {
		if s.associatedData == "-" {
			s.associatedData = ""
			s.ciphertext = sealResource(t, testAPIv3Key, "abcdefghijkl", "", testTransaction)
			s.nonce = "abcdefghijkl"
			s.rawBody = `{"id":"EV-AD","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"","ciphertext":"` + s.ciphertext + `"}}`
		}
		out[name] = buildCallback(t, s)
	}
	return out
}

// sdkAccepts runs the official SDK's notify handler on a callback; a panic
// (the SDK panics on a nil resource or a nonce GCM cannot take) counts as a
// refusal.
func sdkAccepts(t *testing.T, cb builtCallback) (ok bool, why string) {
	c := testkit.Creds()
	h, err := notify.NewRSANotifyHandler(testAPIv3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(c.PublicKeyID, c.WechatPayKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/notify", bytes.NewReader(cb.body))
	for k, v := range cb.header {
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

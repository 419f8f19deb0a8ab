package notification

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

func testAEAD(t testing.TB) interface {
	NonceSize() int
} {
	t.Helper()
	a, err := apiv3.NewAEAD([]byte(testkit.APIv3Key))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseDecryptEnvelope(t *testing.T) {
	aead, err := apiv3.NewAEAD([]byte(testkit.APIv3Key))
	if err != nil {
		t.Fatal(err)
	}
	cb := testkit.BuildCallback(t, testkit.CallbackSpec{})
	n, err := Parse(cb.Body)
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != cb.ID || n.EventType != "TRANSACTION.SUCCESS" || n.ResourceType != "encrypt-resource" ||
		n.Summary != "支付成功" || n.CreateTime != "2015-05-20T13:29:35+08:00" || n.Resource.OriginalType != "transaction" {
		t.Errorf("parsed %+v", n)
	}
	plain, err := n.Decrypt(aead)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != testkit.Transaction {
		t.Errorf("plaintext %s", plain)
	}
	env := n.Envelope(plain)
	var got map[string]json.RawMessage
	if err := json.Unmarshal(env, &got); err != nil {
		t.Fatalf("envelope is not JSON: %v\n%s", err, env)
	}
	if string(got["resource"]) != testkit.Transaction {
		t.Errorf("resource = %s", got["resource"])
	}
	for _, k := range []string{"id", "create_time", "event_type", "resource_type", "summary"} {
		if _, ok := got[k]; !ok {
			t.Errorf("envelope lost %s", k)
		}
	}
	if bytes.Contains(env, []byte("ciphertext")) {
		t.Errorf("envelope still holds the ciphertext")
	}
}

// TestEnvelopeKeepsOtherBytes: everything but the resource value is passed
// on byte for byte, unknown fields, escapes, spacing and order included.
func TestEnvelopeKeepsOtherBytes(t *testing.T) {
	aead, _ := apiv3.NewAEAD([]byte(testkit.APIv3Key))
	ct := testkit.SealResource(t, testkit.APIv3Key, "abcdefghijkl", "", `{"a":1}`)
	body := "{\n  \"summary\": \"\\u652f\\u4ed8\",\"x_new\": [1, 2.50, {\"k\": null}],\n" +
		"  \"resource\" :\t{\"nonce\":\"abcdefghijkl\",\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"" + ct + "\",\"extra\":true} ,\n" +
		"  \"id\": \"EV-1\", \"big\": 101164396123311331\n}"
	n, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := n.Decrypt(aead)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"summary\": \"\\u652f\\u4ed8\",\"x_new\": [1, 2.50, {\"k\": null}],\n" +
		"  \"resource\" :\t{\"a\":1} ,\n  \"id\": \"EV-1\", \"big\": 101164396123311331\n}"
	if got := string(n.Envelope(plain)); got != want {
		t.Errorf("envelope\n got %q\nwant %q", got, want)
	}
	if n.Summary != "支付" {
		t.Errorf("summary %q", n.Summary)
	}
}

func TestParseNotificationRefusals(t *testing.T) {
	ct := testkit.SealResource(t, testkit.APIv3Key, "abcdefghijkl", "", `{"a":1}`)
	res := func(extra string) string {
		return `{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","ciphertext":"` + ct + `"` + extra + `}`
	}
	for _, tc := range []struct{ name, body, code, mention string }{
		{"not JSON", `{"id":"EV-1",`, CodeNotificationMalformed, "valid JSON"},
		{"array", `[{"id":"EV-1"}]`, CodeNotificationMalformed, "JSON object"},
		{"string", `"EV-1"`, CodeNotificationMalformed, "JSON object"},
		{"trailing data", `{"id":"EV-1","resource":` + res("") + `} {}`, CodeNotificationMalformed, "valid JSON"},
		{"repeated key", `{"id":"EV-1","id":"EV-2","resource":` + res("") + `}`, CodeNotificationMalformed, "repeated"},
		{"repeated resource", `{"id":"EV-1","resource":` + res("") + `,"resource":{}}`, CodeNotificationMalformed, "repeated"},
		{"no id", `{"resource":` + res("") + `}`, CodeNotificationMalformed, "id"},
		{"empty id", `{"id":"","resource":` + res("") + `}`, CodeNotificationMalformed, "id"},
		{"numeric id", `{"id":12,"resource":` + res("") + `}`, CodeNotificationMalformed, "id must be a string"},
		{"bad create_time", `{"id":"EV-1","create_time":"yesterday","resource":` + res("") + `}`, CodeNotificationMalformed, "create_time"},
		{"event_type object", `{"id":"EV-1","event_type":{},"resource":` + res("") + `}`, CodeNotificationMalformed, "event_type"},
		{"no resource", `{"id":"EV-1"}`, CodeNotificationMalformed, "resource is missing"},
		{"null resource", `{"id":"EV-1","resource":null}`, CodeNotificationMalformed, "resource must be a JSON object"},
		{"resource string", `{"id":"EV-1","resource":"x"}`, CodeNotificationMalformed, "resource must be a JSON object"},
		{"other algorithm", `{"id":"EV-1","resource":{"algorithm":"AEAD_SM4_GCM","nonce":"abcdefghijkl","ciphertext":"` + ct + `"}}`, CodeAlgorithmUnsupported, "AEAD_SM4_GCM"},
		{"no algorithm", `{"id":"EV-1","resource":{"nonce":"abcdefghijkl","ciphertext":"` + ct + `"}}`, CodeAlgorithmUnsupported, "is not"},
		{"short nonce", `{"id":"EV-1","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abc","ciphertext":"` + ct + `"}}`, CodeNotificationMalformed, "nonce must be 12 bytes"},
		{"no ciphertext", `{"id":"EV-1","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl"}}`, CodeNotificationMalformed, "ciphertext"},
		{"numeric nonce", `{"id":"EV-1","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":123456789012,"ciphertext":"` + ct + `"}}`, CodeNotificationMalformed, "resource.nonce must be a string"},
		{"associated_data number", `{"id":"EV-1","resource":` + res(`,"associated_data":1`) + `}`, CodeNotificationMalformed, "associated_data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			var ne *Error
			if !errors.As(err, &ne) || ne.Code != tc.code || !strings.Contains(ne.Reason, tc.mention) {
				t.Errorf("err = %v, want %s mentioning %q", err, tc.code, tc.mention)
			}
		})
	}
}

func TestDecryptRefusals(t *testing.T) {
	aead, _ := apiv3.NewAEAD([]byte(testkit.APIv3Key))
	for _, tc := range []struct {
		name string
		spec testkit.CallbackSpec
		tamp func(n *Notification)
		code string
	}{
		{"wrong APIv3 key", testkit.CallbackSpec{APIv3Key: "Zx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"}, nil, CodeDecryptFailed},
		{"tampered ciphertext", testkit.CallbackSpec{}, func(n *Notification) {
			b, _ := base64.StdEncoding.DecodeString(n.Resource.Ciphertext)
			b[5] ^= 1
			n.Resource.Ciphertext = base64.StdEncoding.EncodeToString(b)
		}, CodeDecryptFailed},
		{"tampered associated data", testkit.CallbackSpec{}, func(n *Notification) { n.Resource.AssociatedData = "refund" }, CodeDecryptFailed},
		{"tampered nonce", testkit.CallbackSpec{}, func(n *Notification) { n.Resource.Nonce = "ZZZZZZZZZZZZ" }, CodeDecryptFailed},
		{"ciphertext not base64", testkit.CallbackSpec{Ciphertext: "!!!notbase64!!!"}, nil, CodeNotificationMalformed},
		{"plaintext array", testkit.CallbackSpec{Plaintext: `[{"mchid":"1"}]`}, nil, CodeDecryptFailed},
		{"plaintext string", testkit.CallbackSpec{Plaintext: `"SUCCESS"`}, nil, CodeDecryptFailed},
		{"plaintext not JSON", testkit.CallbackSpec{Plaintext: `{"mchid":`}, nil, CodeDecryptFailed},
		{"plaintext empty", testkit.CallbackSpec{Plaintext: ` `}, nil, CodeDecryptFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := testkit.BuildCallback(t, tc.spec)
			n, err := Parse(cb.Body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamp != nil {
				tc.tamp(n)
			}
			plain, err := n.Decrypt(aead)
			var ne *Error
			if !errors.As(err, &ne) || ne.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if plain != nil {
				t.Errorf("plaintext returned with an error")
			}
			if strings.Contains(err.Error(), testkit.APIv3Key) || strings.Contains(err.Error(), "mchid") {
				t.Errorf("error quotes secret or plaintext: %v", err)
			}
		})
	}
}

func TestNewNotificationAEAD(t *testing.T) {
	for _, k := range []string{"", "short", testkit.APIv3Key + "x", strings.Repeat("k", 16), strings.Repeat("k", 24)} {
		if _, err := apiv3.NewAEAD([]byte(k)); err == nil {
			t.Errorf("accepted a %d-byte key", len(k))
		} else if k != "" && strings.Contains(err.Error(), k) {
			t.Errorf("error quotes the key: %v", err)
		}
	}
	if a := testAEAD(t); a.NonceSize() != 12 {
		t.Errorf("nonce size %d", a.NonceSize())
	}
}

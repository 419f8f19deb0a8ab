package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func TestRefusals(t *testing.T) {
	h := newHarness(t, nil)
	pubSerial := map[string]string{"Wechatpay-Serial": creds.PublicKeyID}
	good := presignBody(t, encPub)
	with := func(mutate func(m map[string]any)) []byte {
		m := presignBody(t, encPub)
		mutate(m)
		return mustJSON(t, m)
	}
	goodBody := mustJSON(t, good)
	cases := []struct {
		name        string
		rr          rawRequest
		status      int
		code        string
		field       string // detail.field, when checked
		wantMessage string // substring of message
	}{
		{name: "bad signature", rr: rawRequest{signBody: []byte(`{"tampered":true}`)},
			status: 401, code: "SIGN_ERROR", field: "signature", wantMessage: "验签失败"},
		{name: "signed by another key", rr: rawRequest{key: otherKey},
			status: 401, code: "SIGN_ERROR", field: "signature"},
		{name: "stale timestamp", rr: rawRequest{timestamp: time.Now().Add(-6 * time.Minute).Unix()},
			status: 401, code: "SIGN_ERROR", field: "timestamp"},
		{name: "future timestamp", rr: rawRequest{timestamp: time.Now().Add(6 * time.Minute).Unix()},
			status: 401, code: "SIGN_ERROR", field: "timestamp"},
		{name: "wrong serial_no", rr: rawRequest{serial: creds.PlatformSerial},
			status: 401, code: "SIGN_ERROR", field: "serial_no"},
		{name: "wrong mchid", rr: rawRequest{mchid: "1900000001"},
			status: 401, code: "SIGN_ERROR", field: "mchid"},
		{name: "short nonce", rr: rawRequest{nonce: "abc"},
			status: 401, code: "SIGN_ERROR", field: "nonce_str"},
		{name: "no Authorization", rr: rawRequest{noAuth: true},
			status: 401, code: "SIGN_ERROR", wantMessage: "Authorization"},
		{name: "wrong scheme", rr: rawRequest{header: map[string]string{"Authorization": `WECHATPAY2-SHA256-RSA mchid="1"`}},
			status: 401, code: "SIGN_ERROR"},
		{name: "no User-Agent", rr: rawRequest{header: map[string]string{"User-Agent": ""}},
			status: 400, code: "PARAM_ERROR", wantMessage: "User-Agent"},
		{name: "missing Wechatpay-Serial", rr: rawRequest{header: map[string]string{"Wechatpay-Serial": ""}},
			status: 400, code: "PARAM_ERROR", wantMessage: "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)"},
		{name: "unknown Wechatpay-Serial", rr: rawRequest{header: map[string]string{"Wechatpay-Serial": "PUB_KEY_ID_0100000000000000000000000000"}},
			status: 400, code: "PARAM_ERROR", field: "Wechatpay-Serial"},
		{name: "plaintext in sensitive field", rr: rawRequest{body: with(func(m map[string]any) {
			m["identity"].(map[string]any)["real_name"] = "张三"
		})}, status: 400, code: "PARAM_ERROR", field: "identity.real_name"},
		{name: "non-string sensitive field", rr: rawRequest{body: with(func(m map[string]any) {
			m["bank_card"].(map[string]any)["phone"] = 13800000000
		})}, status: 400, code: "PARAM_ERROR", field: "bank_card.phone"},
		{name: "ciphertext under the wrong key", rr: rawRequest{body: with(func(m map[string]any) {
			m["identity"].(map[string]any)["id_card_number"] = encPlatform(t, "110101199003070000")
		})}, status: 400, code: "PARAM_ERROR", field: "identity.id_card_number"},
		{name: "missing required openid", rr: rawRequest{body: with(func(m map[string]any) { delete(m, "openid") })},
			status: 400, code: "PARAM_ERROR", field: "openid", wantMessage: "必填"},
		{name: "missing identity.credential_type", rr: rawRequest{body: with(func(m map[string]any) {
			delete(m["identity"].(map[string]any), "credential_type")
		})}, status: 400, code: "PARAM_ERROR", field: "identity.credential_type"},
		{name: "missing bank_card.bank_card_no", rr: rawRequest{body: with(func(m map[string]any) {
			delete(m["bank_card"].(map[string]any), "bank_card_no")
		})}, status: 400, code: "PARAM_ERROR", field: "bank_card.bank_card_no"},
		{name: "non-JSON body", rr: rawRequest{body: []byte(`appid=wx1&openid=o1`)},
			status: 400, code: "PARAM_ERROR"},
		{name: "truncated JSON body", rr: rawRequest{body: goodBody[:len(goodBody)-1]},
			status: 400, code: "PARAM_ERROR"},
		{name: "plaintext query parameter", rr: rawRequest{method: "GET", uri: "/v3/aggracct-bc/wb-channel/account/balance?bal_account_no=6222000011112222"},
			status: 400, code: "PARAM_ERROR", field: "bal_account_no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rr := tc.rr
			if rr.method == "" {
				rr.method = "POST"
			}
			if rr.uri == "" {
				rr.uri = PresignPath
			}
			if rr.body == nil && rr.method == "POST" {
				rr.body = goodBody
			}
			hdr := map[string]string{}
			for k, v := range pubSerial {
				hdr[k] = v
			}
			for k, v := range rr.header {
				hdr[k] = v
			}
			rr.header = hdr
			resp, body := h.do(t, rr)
			// Every refusal is signed like any answer.
			if err := validate(resp, body); err != nil {
				t.Errorf("answer does not verify with the SDK: %v", err)
			}
			e := decodeErr(t, body)
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", resp.StatusCode, e.Code, tc.status, tc.code, body)
			}
			if tc.field != "" && e.Detail["field"] != tc.field {
				t.Errorf("detail.field %v, want %s: %s", e.Detail["field"], tc.field, body)
			}
			if tc.wantMessage != "" && !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("message %q lacks %q", e.Message, tc.wantMessage)
			}
			if strings.Contains(string(body), "张三") {
				t.Errorf("answer echoes a plaintext personal value: %s", body)
			}
			x := h.last(t)
			if _, failed := x.Failed(); !failed {
				t.Errorf("exchange records no failed step: %+v", x.Steps)
			}
		})
	}
}

func TestSignErrorShowsSignInformation(t *testing.T) {
	h := newHarness(t, nil)
	uri := NativePayPath + "?a=1"
	resp, body := h.do(t, rawRequest{method: "POST", uri: uri, body: []byte(`{"x":1}`), signBody: []byte(`{"x":2}`)})
	e := decodeErr(t, body)
	info, _ := e.Detail["sign_information"].(map[string]any)
	if resp.StatusCode != 401 || info == nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if info["method"] != "POST" || info["url"] != uri || !strings.HasPrefix(info["truncated_sign_message"].(string), "POST\n"+uri+"\n") {
		t.Errorf("sign_information %v", info)
	}
	// 5 lines: method, uri, timestamp, nonce(32), body, each ending "\n".
	wantLen := len("POST\n"+uri+"\n") + 10 + 1 + 32 + 1 + len(`{"x":1}`) + 1
	if n := int(info["sign_message_length"].(float64)); n != wantLen {
		t.Errorf("sign_message_length %d, want %d", n, wantLen)
	}
}

func TestReusedNonce(t *testing.T) {
	h := newHarness(t, nil)
	nonce, _ := utils.GenerateNonce()
	rr := rawRequest{method: "POST", uri: NativePayPath, body: []byte(`{}`), nonce: nonce}
	if resp, body := h.do(t, rr); resp.StatusCode != 200 {
		t.Fatalf("first use: %d %s", resp.StatusCode, body)
	}
	resp, body := h.do(t, rr)
	if e := decodeErr(t, body); resp.StatusCode != 401 || e.Code != "SIGN_ERROR" || e.Detail["field"] != "nonce_str" {
		t.Fatalf("replay: %d %s", resp.StatusCode, body)
	}
	if err := validate(resp, body); err != nil {
		t.Error(err)
	}
}

// TestSDKClientSeesAPIError checks the refusals through the SDK client's
// own error type.
func TestSDKClientSeesAPIError(t *testing.T) {
	h := newHarness(t, nil)
	client, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher("1900000001", creds.MerchantSerial, creds.MerchantPrivateKey, creds.PublicKeyID, creds.PublicKey),
		option.WithHTTPClient(h.ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Post(context.Background(), h.ts.URL+NativePayPath, map[string]string{"a": "b"})
	if !core.IsAPIError(err, "SIGN_ERROR") {
		t.Fatalf("wrong mchid: %v", err)
	}
	if apiErr := err.(*core.APIError); apiErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d", apiErr.StatusCode)
	}

	// The sandbox's clock ten minutes ahead: the SDK's timestamp is stale.
	hs := newHarness(t, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(10 * time.Minute) } })
	_, err = hs.sdkClient(t).Post(context.Background(), hs.ts.URL+NativePayPath, map[string]string{"a": "b"})
	if !core.IsAPIError(err, "SIGN_ERROR") {
		t.Fatalf("stale timestamp: %v", err)
	}
}

func TestQueryCiphertextMustBeURLEncoded(t *testing.T) {
	h := newHarness(t, nil)
	ct := encPub(t, "6222000011112222")
	for !strings.Contains(ct, "+") {
		ct = encPub(t, "6222000011112222")
	}
	const path = "/v3/aggracct-bc/wb-channel/account/balance"
	resp, body := h.do(t, rawRequest{method: "GET", uri: path + "?bal_account_no=" + url.QueryEscape(ct),
		header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
	if resp.StatusCode != 200 {
		t.Fatalf("URL-encoded ciphertext refused: %s", body)
	}
	if v, _ := h.last(t).Field("bal_account_no"); v != "6222000011112222" {
		t.Errorf("decrypted %q", v)
	}
	resp, body = h.do(t, rawRequest{method: "GET", uri: path + "?bal_account_no=" + ct,
		header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
	if e := decodeErr(t, body); resp.StatusCode != 400 || e.Code != "PARAM_ERROR" || !strings.Contains(e.Detail["issue"].(string), "%2B") {
		t.Errorf("raw '+' in query: %d %s", resp.StatusCode, body)
	}
}

package sandbox

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func TestPresignFromSDKWithPublicKey(t *testing.T) {
	h := newHarness(t, nil)
	client := h.sdkClient(t)
	body := mustJSON(t, presignBody(t, encPub))
	// The SDK signs, sets Wechatpay-Serial to the public key ID and
	// validates the answer's signature with the public key.
	res, err := client.Request(context.Background(), http.MethodPost, h.ts.URL+PresignPath,
		http.Header{"Wechatpay-Serial": {creds.PublicKeyID}}, nil, body, "application/json")
	if err != nil {
		t.Fatalf("SDK request: %v", err)
	}
	var got struct {
		PresignToken string `json:"presign_token"`
	}
	if err := core.UnMarshalResponse(res.Response, &got); err != nil || got.PresignToken == "" {
		t.Fatalf("presign answer %+v, %v", got, err)
	}
	if s := res.Response.Header.Get("Wechatpay-Serial"); s != creds.PublicKeyID {
		t.Errorf("answer signed by %s, want the public key %s", s, creds.PublicKeyID)
	}

	x := h.last(t)
	if string(x.Body) != string(body) {
		t.Error("Exchange.Body is not the raw received body")
	}
	if !strings.HasPrefix(x.Header.Get("Authorization"), AuthScheme+" ") {
		t.Errorf("Exchange.Header lacks Authorization: %v", x.Header)
	}
	if st, failed := x.Failed(); failed {
		t.Errorf("failed step %+v", st)
	}
	want := map[string]string{
		"identity.real_name": "张三", "identity.credential_type": "IDENTITY_CARD",
		"identity.id_card_number": "110101199003070000", "bank_card.bank_card_no": "6222000000000000000",
		"bank_card.phone": "13800000000",
	}
	for p, v := range want {
		if got, ok := x.Field(p); !ok || got != v {
			t.Errorf("decrypted %s = %q, %v; want %q", p, got, ok, v)
		}
	}
	if x.Status != 200 || x.Endpoint != "POST "+PresignPath || x.RequestURI != PresignPath {
		t.Errorf("exchange %d %q %q", x.Status, x.Endpoint, x.RequestURI)
	}
}

func TestPresignWithPlatformCertificate(t *testing.T) {
	h := newHarness(t, nil)
	body := mustJSON(t, presignBody(t, encPlatform))
	resp, rb := h.do(t, rawRequest{method: "POST", uri: PresignPath, body: body,
		header: map[string]string{"Wechatpay-Serial": creds.PlatformSerial}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, rb)
	}
	if s := resp.Header.Get("Wechatpay-Serial"); s != creds.PlatformSerial {
		t.Errorf("answer signed by %s, want the platform certificate %s", s, creds.PlatformSerial)
	}
	v := validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSAVerifier(
		core.NewCertificateMapWithList([]*x509.Certificate{creds.PlatformCertificate})))
	if err := validate(resp, rb); err != nil {
		t.Errorf("SDK combined verifier: %v", err)
	}
	resp2, rb2 := h.do(t, rawRequest{method: "POST", uri: PresignPath, body: body,
		header: map[string]string{"Wechatpay-Serial": creds.PlatformSerial}})
	resp2.Body = nopBody(rb2)
	if err := v.Validate(context.Background(), resp2); err != nil {
		t.Errorf("SDK certificate verifier: %v", err)
	}
}

func TestPresignAnswerVerifiesWithPubkeyVerifier(t *testing.T) {
	h := newHarness(t, nil)
	resp, rb := h.do(t, rawRequest{method: "POST", uri: PresignPath, body: mustJSON(t, presignBody(t, encPub)),
		header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, rb)
	}
	resp.Body = nopBody(rb)
	v := validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSAPubkeyVerifier(creds.PublicKeyID, *creds.PublicKey))
	if err := v.Validate(context.Background(), resp); err != nil {
		t.Fatalf("SDK pubkey verifier: %v", err)
	}
	for _, hname := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial", "Request-Id"} {
		if resp.Header.Get(hname) == "" {
			t.Errorf("answer lacks %s", hname)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestCatalogedEndpointQueryAndEncryptedAnswer(t *testing.T) {
	h := newHarness(t, nil)
	client := h.sdkClient(t)
	q := url.Values{"bal_account_no": {encPub(t, "6222000011112222")}, "card_no": {encPub(t, "6222333344445555")}}
	res, err := client.Request(context.Background(), http.MethodGet,
		h.ts.URL+"/v3/aggracct-bc/wb-channel/account/mch_archives", nil, q, nil, "")
	if err != nil {
		t.Fatalf("SDK request: %v", err)
	}
	var raw json.RawMessage
	if err := core.UnMarshalResponse(res.Response, &raw); err != nil {
		t.Fatal(err)
	}
	dec := func(path string) string {
		t.Helper()
		ct := gjson.GetBytes(raw, path).String()
		pt, err := utils.DecryptOAEP(ct, creds.MerchantPrivateKey)
		if err != nil {
			t.Fatalf("%s: SDK DecryptOAEP with merchant key: %v", path, err)
		}
		return pt
	}
	if got := dec("bal_account_no"); got != "6222000011112222" {
		t.Errorf("bal_account_no echoed as %q", got)
	}
	if got := dec("beneficial_owner.1.beneficial_owner_id_no"); got != SampleResponsePlaintext("beneficial_owner.1.beneficial_owner_id_no") {
		t.Errorf("beneficial_owner.1.beneficial_owner_id_no = %q", got)
	}
	if got := dec("legal_representative.legal_representative_name"); got != "sandbox:legal_representative.legal_representative_name" {
		t.Errorf("legal_representative_name = %q", got)
	}
	x := h.last(t)
	if v, _ := x.Field("card_no"); v != "6222333344445555" {
		t.Errorf("query card_no decrypted as %q", v)
	}
}

func TestNestedArrayRequestAndPathParams(t *testing.T) {
	h := newHarness(t, nil)
	client := h.sdkClient(t)
	body := mustJSON(t, map[string]any{
		"appid": "wx8888888888888888", "out_batch_no": "plfk2020042013",
		"transfer_detail_list": []any{
			map[string]any{"out_detail_no": "x1", "user_name": encPub(t, "李四"), "user_id_card": encPub(t, "110101199003071111")},
			map[string]any{"out_detail_no": "x2", "user_name": encPub(t, "王五")},
		},
	})
	if _, err := client.Request(context.Background(), http.MethodPost, h.ts.URL+"/v3/transfer/batches",
		nil, nil, body, "application/json"); err != nil {
		t.Fatalf("SDK request: %v", err)
	}
	x := h.last(t)
	for p, v := range map[string]string{"transfer_detail_list.0.user_name": "李四",
		"transfer_detail_list.0.user_id_card": "110101199003071111", "transfer_detail_list.1.user_name": "王五"} {
		if got, _ := x.Field(p); got != v {
			t.Errorf("%s = %q, want %q", p, got, v)
		}
	}

	// A {param} template: the parameter is echoed in the answer.
	res, err := client.Request(context.Background(), http.MethodGet,
		h.ts.URL+"/v3/aggracct-bc/wb-channel/bank-channel-account/rename/APP123", nil,
		url.Values{"bal_account_no": {encPub(t, "1")}}, nil, "")
	if err != nil {
		t.Fatalf("SDK request: %v", err)
	}
	var raw json.RawMessage
	_ = core.UnMarshalResponse(res.Response, &raw)
	if gjson.GetBytes(raw, "application_id").String() != "APP123" {
		t.Errorf("answer %s lacks application_id", raw)
	}
}

func TestNativePayAndNotFound(t *testing.T) {
	h := newHarness(t, nil)
	client := h.sdkClient(t)
	res, err := client.Post(context.Background(), h.ts.URL+NativePayPath, map[string]any{"appid": "wx1", "description": "x"})
	if err != nil {
		t.Fatalf("native pay via SDK: %v", err)
	}
	var got struct {
		CodeURL string `json:"code_url"`
	}
	if err := core.UnMarshalResponse(res.Response, &got); err != nil || !strings.HasPrefix(got.CodeURL, "weixin://") {
		t.Errorf("native answer %+v %v", got, err)
	}

	resp, rb := h.do(t, rawRequest{method: "GET", uri: "/v3/no/such/endpoint"})
	if e := decodeErr(t, rb); resp.StatusCode != 404 || e.Code != "NOT_FOUND" {
		t.Errorf("unknown endpoint: %d %s", resp.StatusCode, rb)
	}
	if err := validate(resp, rb); err != nil {
		t.Errorf("404 answer not signed: %v", err)
	}
}

func TestBillDownloadUnsigned(t *testing.T) {
	h := newHarness(t, nil)
	resp, rb := h.do(t, rawRequest{method: "GET", uri: BillDownloadPath + "?token=abc"})
	if resp.StatusCode != 200 || !strings.Contains(string(rb), creds.MchID) {
		t.Fatalf("bill download %d %q", resp.StatusCode, rb)
	}
	if resp.Header.Get("Wechatpay-Signature") != "" || resp.Header.Get("Request-Id") == "" {
		t.Errorf("bill download headers %v", resp.Header)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	resp, rb = h.do(t, rawRequest{method: "GET", uri: BillDownloadPath + "?token=abc&tar_type=GZIP"})
	if resp.StatusCode != 200 || len(rb) < 2 || rb[0] != 0x1f || rb[1] != 0x8b {
		t.Errorf("tar_type=GZIP not gzip: %d % x", resp.StatusCode, rb[:min(4, len(rb))])
	}
}

func TestSigningKeyChoice(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ header, want string }{
		{"", creds.PublicKeyID},
		{creds.PublicKeyID, creds.PublicKeyID},
		{creds.PlatformSerial, creds.PlatformSerial},
		{"UNKNOWN", creds.PublicKeyID},
	} {
		resp, rb := h.do(t, rawRequest{method: "POST", uri: NativePayPath, body: []byte(`{}`),
			header: map[string]string{"Wechatpay-Serial": tc.header}})
		if got := resp.Header.Get("Wechatpay-Serial"); got != tc.want {
			t.Errorf("request Wechatpay-Serial %q: answer signed by %s, want %s", tc.header, got, tc.want)
		}
		if err := validate(resp, rb); err != nil {
			t.Errorf("request Wechatpay-Serial %q: %v", tc.header, err)
		}
	}
	hp := newHarness(t, func(c *Config) { c.SignWith = SignWithPlatformCertificate })
	resp, rb := hp.do(t, rawRequest{method: "POST", uri: NativePayPath, body: []byte(`{}`),
		header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
	if got := resp.Header.Get("Wechatpay-Serial"); got != creds.PlatformSerial {
		t.Errorf("SignWithPlatformCertificate: signed by %s", got)
	}
	if err := validate(resp, rb); err != nil {
		t.Error(err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no mchid":         func(c *Config) { c.MchID = "" },
		"no merchant cert": func(c *Config) { c.MerchantCertificate = nil },
		"no wechatpay key": func(c *Config) { *c = Config{MchID: c.MchID, MerchantCertificate: c.MerchantCertificate} },
		"bad key id":       func(c *Config) { c.PublicKeyID = "123" },
		"mismatched plat":  func(c *Config) { c.PlatformPrivateKey = otherKey },
		"sign with missing": func(c *Config) {
			c.PlatformCertificate, c.PlatformPrivateKey, c.SignWith = nil, nil, SignWithPlatformCertificate
		},
	} {
		cfg := creds.ServerConfig()
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	cfg := creds.ServerConfig()
	cfg.PlatformCertificate, cfg.PlatformPrivateKey = nil, nil
	if _, err := New(cfg); err != nil {
		t.Errorf("public key only: %v", err)
	}
}

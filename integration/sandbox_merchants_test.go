package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestIntegrationSandboxServesTwoMerchants: a real Caddy with two merchants
// in the wechatpay app, each route proxying to one sandbox that holds both
// keygen sets. Each merchant's 校园轻松付 day goes through the proxy, verified
// with that merchant's own WeChat Pay key; one merchant's contract is unknown
// to the other; a documented endpoint the sandbox does not play reaches the
// app as its signed SANDBOX_NOT_SIMULATED.
func TestIntegrationSandboxServesTwoMerchants(t *testing.T) {
	dir := t.TempDir()
	for _, mchid := range []string{"1900000001", "1900000002"} {
		if _, err := sandbox.GenerateCredentials(filepath.Join(dir, mchid), mchid); err != nil {
			t.Fatal(err)
		}
	}
	sets, err := sandbox.LoadCredentialSets(dir)
	if err != nil || len(sets) != 2 {
		t.Fatalf("%d sets: %v", len(sets), err)
	}
	var servers []*sandbox.Server
	for _, c := range sets {
		s, err := sandbox.New(c.ServerConfig())
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	m, err := sandbox.NewMerchants(servers...)
	if err != nil {
		t.Fatal(err)
	}
	sim := httptest.NewServer(m)
	t.Cleanup(sim.Close)

	var merchants, routes strings.Builder
	for i, c := range sets {
		fmt.Fprintf(&merchants, `		merchant m%d {
			mchid         %s
			serial_no     %s
			private_key   %s
			public_key_id %s
			public_key    %s
		}
`, i, c.MchID, c.MerchantSerial, c.Path(c.Files.MerchantPrivateKey), c.PublicKeyID, c.Path(c.Files.PublicKey))
		fmt.Fprintf(&routes, `	@m%d header X-Merchant m%d
	route @m%d {
		wechatpay {
			merchant m%d
		}
		reverse_proxy %s
	}
`, i, i, i, i, strings.TrimPrefix(sim.URL, "http://"))
	}
	config := "{\n" + testGlobals("1ns") + "\twechatpay {\n" + merchants.String() + "\t}\n}\n" +
		proxyURL + " {\n\tbind 127.0.0.1\n" + routes.String() + "\trespond 404\n}\n"
	tester := newTester(t)
	loadCaddyfile(t, tester, config)
	if t.Failed() {
		t.FailNow()
	}
	call := func(merchant, method, uri string, body string) (int, gjson.Result) {
		t.Helper()
		var b []byte
		header := []string{"X-Merchant", merchant}
		if body != "" {
			b = []byte(body)
			header = append(header, "Content-Type", "application/json")
		}
		resp, raw := send(t, tester, method, uri, b, header...)
		return resp.StatusCode, gjson.ParseBytes(raw)
	}
	contracts := map[string]string{}
	for i, c := range sets {
		merchant := fmt.Sprintf("m%d", i)
		status, got := call(merchant, http.MethodPost, sandbox.PresignPath, testkit.PresignBody)
		if status != 200 || got.Get("presign_token").Str == "" {
			t.Fatalf("%s presign: %d %s", merchant, status, got.Raw)
		}
		resp, err := http.Post(sim.URL+sandbox.ContractSignPath, "application/json", bytes.NewReader([]byte(
			`{"presign_token":"`+got.Get("presign_token").Str+`","openid":"`+gjson.Get(testkit.PresignBody, "openid").Str+`"}`)))
		if err != nil {
			t.Fatal(err)
		}
		var signed bytes.Buffer
		_, _ = signed.ReadFrom(resp.Body)
		resp.Body.Close()
		id := gjson.GetBytes(signed.Bytes(), "contract_id").Str
		if resp.StatusCode != 200 || id == "" {
			t.Fatalf("%s signing: %d %s", merchant, resp.StatusCode, signed.Bytes())
		}
		contracts[merchant] = id
		status, got = call(merchant, http.MethodGet, "/v3/eduschoolpay/contracts/"+id, "")
		if status != 200 || got.Get("mchid").Str != c.MchID || got.Get("contract_status").Str != "ADD" {
			t.Errorf("%s contract query: %d %s", merchant, status, got.Raw)
		}
		status, got = call(merchant, http.MethodPost, sandbox.EduTransactionsPath, `{"appid":"`+gjson.Get(testkit.PresignBody, "appid").Str+
			`","description":"学校-食堂-午餐","out_trade_no":"T1","contract_id":"`+id+`","user_id":"`+gjson.Get(testkit.PresignBody, "user_id").Str+
			`","amount":{"total":100},"scene_info":{"school_id":"1","scene_type":"CANTEEN"}}`)
		if status != 200 || got.Get("trade_state").Str != "SUCCESS" || got.Get("mchid").Str != c.MchID {
			t.Errorf("%s 扣款: %d %s", merchant, status, got.Raw)
		}
	}
	status, got := call("m0", http.MethodGet, "/v3/eduschoolpay/contracts/"+contracts["m1"], "")
	if status != 404 || got.Get("code").Str != "NOT_FOUND" {
		t.Errorf("m0 queries m1's contract: %d %s", status, got.Raw)
	}
	status, got = call("m1", http.MethodGet, "/v3/eduschoolpay/users/o/debt-state", "")
	if status != 404 || got.Get("code").Str != sandbox.NotSimulatedCode || !strings.Contains(got.Get("message").Str, "debt-state") {
		t.Errorf("a documented endpoint the sandbox does not play: %d %s", status, got.Raw)
	}
}

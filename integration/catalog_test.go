package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/reference"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// sampleDocument builds a JSON object with a unique string at every path
// (two elements for each #), and returns it with the list of strings.
func sampleDocument(t *testing.T, paths []string, value func(path string, idx []int) string) ([]byte, []string) {
	t.Helper()
	root := map[string]any{}
	var values []string
	var insert func(m map[string]any, segs []string, path string, idx []int)
	insert = func(m map[string]any, segs []string, path string, idx []int) {
		key, rest := segs[0], segs[1:]
		switch {
		case len(rest) == 0:
			v := value(path, idx)
			values = append(values, v)
			m[key] = v
		case rest[0] == "#":
			arr, _ := m[key].([]any)
			if arr == nil {
				arr = []any{map[string]any{}, map[string]any{}}
				m[key] = arr
			}
			for i, el := range arr {
				insert(el.(map[string]any), rest[1:], path, append(append([]int(nil), idx...), i))
			}
		default:
			child, _ := m[key].(map[string]any)
			if child == nil {
				child = map[string]any{}
				m[key] = child
			}
			insert(child, rest, path, idx)
		}
	}
	for _, p := range paths {
		insert(root, testkit.Segments(p), p, nil)
	}
	root["not_sensitive"] = "keep me 18 digits"
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out, values
}

// TestIntegrationCatalog sends, for every cataloged endpoint, a request
// with plaintext at each documented body path and query parameter through a
// real Caddy; the stand-in must be able to decrypt every value with the
// official SDK and see no plaintext anywhere. Then it answers ciphertext at
// each documented response path, and the client must get plaintext.
func TestIntegrationCatalog(t *testing.T) {
	tester, stub := startProxy(t, "decrypt_responses")
	c := testkit.Creds()
	for _, e := range reference.SensitiveEndpoints() { // the reference, not the module's catalog
		name := e.Method + " " + e.Path
		stub.Reset()
		var reqBody []byte
		var plains []string
		if len(e.RequestBody) > 0 {
			reqBody, plains = sampleDocument(t, e.RequestBody, func(p string, idx []int) string {
				return fmt.Sprintf("明文:%s:%v", p, idx)
			})
		} else if e.Method != "GET" {
			reqBody = []byte(`{"not_sensitive":"x"}`)
		}
		query := "other=keep%20me+too"
		for _, q := range e.RequestQuery {
			v := "明文 " + q
			plains = append(plains, v)
			query += "&" + q + "=" + url.QueryEscape(v)
		}
		uri := testkit.ConcretePath(e.Path) + "?" + query

		var wantResponse []string
		if len(e.ResponseBody) > 0 {
			var cts []string
			doc, _ := sampleDocument(t, e.ResponseBody, func(p string, idx []int) string {
				v := fmt.Sprintf("响应:%s:%v", p, idx)
				wantResponse = append(wantResponse, v)
				ct := testkit.SealForMerchant(t, v)
				cts = append(cts, ct)
				return ct
			})
			stub.SetResponse(testkit.StubResponse{Body: string(doc)})
		}

		resp, out := send(t, tester, e.Method, uri, reqBody)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d %s", name, resp.StatusCode, out)
			continue
		}
		reqs := stub.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests upstream", name, len(reqs))
		}
		got := reqs[0]
		if got.SignatureOK != nil {
			t.Errorf("%s: signature: %v", name, got.SignatureOK)
		}
		if got.Header.Get("Wechatpay-Serial") != c.PublicKeyID {
			t.Errorf("%s: Wechatpay-Serial %q", name, got.Header.Get("Wechatpay-Serial"))
		}

		// Decrypt, with the SDK, everything at the documented places.
		var decrypted []string
		for _, p := range e.RequestBody {
			for _, r := range testkit.Locate(t, got.Body, p) {
				plain, err := utils.DecryptOAEP(r.Str, c.WechatPayKey)
				if err != nil {
					t.Errorf("%s: %s does not decrypt: %v", name, p, err)
				}
				decrypted = append(decrypted, plain)
			}
		}
		forwardedQuery := got.URI[strings.Index(got.URI, "?")+1:]
		params, err := url.ParseQuery(forwardedQuery)
		if err != nil {
			t.Fatalf("%s: forwarded query %q: %v", name, forwardedQuery, err)
		}
		for _, q := range e.RequestQuery {
			plain, err := utils.DecryptOAEP(params.Get(q), c.WechatPayKey)
			if err != nil {
				t.Errorf("%s: query %s does not decrypt: %v", name, q, err)
			}
			decrypted = append(decrypted, plain)
		}
		if forwardedQuery != "other=keep%20me+too" && !strings.HasPrefix(forwardedQuery, "other=keep%20me+too&") {
			t.Errorf("%s: other parameter changed: %s", name, forwardedQuery)
		}
		sort.Strings(decrypted)
		sort.Strings(plains)
		if fmt.Sprint(decrypted) != fmt.Sprint(plains) {
			t.Errorf("%s: decrypted %q, want %q", name, decrypted, plains)
		}
		var seen bytes.Buffer
		seen.WriteString(got.URI)
		got.Header.Write(&seen)
		seen.Write(got.Body)
		for _, p := range plains {
			if bytes.Contains(seen.Bytes(), []byte(p)) || strings.Contains(seen.String(), url.QueryEscape(p)) {
				t.Errorf("%s: plaintext %q reached WeChat Pay", name, p)
			}
		}

		// The client sees the response's fields decrypted.
		var clientValues []string
		for _, p := range e.ResponseBody {
			for _, r := range testkit.Locate(t, out, p) {
				clientValues = append(clientValues, r.Str)
			}
		}
		sort.Strings(clientValues)
		sort.Strings(wantResponse)
		if fmt.Sprint(clientValues) != fmt.Sprint(wantResponse) {
			t.Errorf("%s: client got %q, want %q", name, clientValues, wantResponse)
		}
		if len(e.ResponseBody) > 0 && (resp.Header.Get("Content-Length") != fmt.Sprint(len(out)) || !gjson.ValidBytes(out)) {
			t.Errorf("%s: Content-Length %q for %d bytes", name, resp.Header.Get("Content-Length"), len(out))
		}
	}
}

// TestIntegrationDecryptFailure: a response field that does not decrypt is a
// 502, never a half-decrypted response.
func TestIntegrationDecryptFailure(t *testing.T) {
	tester, stub := startProxy(t, "decrypt_responses")
	good := testkit.SealForMerchant(t, "ok")
	stub.SetResponse(testkit.StubResponse{Body: `{"bal_account_no":"` + good + `","new_account_name":"bm90IGNpcGhlcnRleHQ="}`})
	resp, out := send(t, tester, "POST", "/v3/aggracct-bc/wb-channel/bank-channel-account/rename", []byte(`{"bal_account_no":"123"}`))
	if resp.StatusCode != 502 || !strings.Contains(string(out), codeResponseDecryptFailed) || strings.Contains(string(out), good) {
		t.Fatalf("status %d %s", resp.StatusCode, out)
	}
}

package integration

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestIntegrationMediaUpload uploads images built as the official SDK
// builds them through a real Caddy: the stand-in receives the multipart
// body byte for byte, checks the signature over the meta part with the
// SDK's verifier, and its signed response reaches the client verified. An
// upload over max_body is refused before anything goes upstream.
func TestIntegrationMediaUpload(t *testing.T) {
	small := make([]byte, 300<<10)
	large := make([]byte, 1536<<10) // over the default max_body of 1 MiB
	rand.Read(small)
	rand.Read(large)
	const answer = `{"media_id":"H1ihR9h1uha6oOmvlDcBp5Vy4vcgXDiQUz_uOA8H9utd-7OIU9Tk0cgHyyLY2v6-6O7Z"}`

	upload := func(t *testing.T, stub *testkit.Stub, file []byte) (int, string) {
		t.Helper()
		stub.Reset()
		stub.SetResponse(testkit.StubResponse{Body: answer})
		_, body, ct := testkit.SDKUpload(t, "school.png", file)
		resp, out := send(t, newTester(t), "POST", "/v3/merchant/media/upload", body, "Content-Type", ct)
		if resp.StatusCode != 200 {
			return resp.StatusCode, string(out)
		}
		reqs := stub.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests upstream", len(reqs))
		}
		if reqs[0].SignatureOK != nil {
			t.Errorf("the SDK's verifier refused the signature over the meta part: %v", reqs[0].SignatureOK)
		}
		if !bytes.Equal(reqs[0].Body, body) || reqs[0].Header.Get("Content-Type") != ct {
			t.Errorf("the stand-in got %d bytes as %q; want the %d bytes sent as %q",
				len(reqs[0].Body), reqs[0].Header.Get("Content-Type"), len(body), ct)
		}
		return resp.StatusCode, string(out)
	}

	stub := testkit.NewStub(t)
	loadCaddyfile(t, newTester(t), proxySite{upstream: stub.URL, maxBody: "-"}.caddyfile(t))
	if code, out := upload(t, stub, small); code != 200 || out != answer {
		t.Errorf("a 300 KiB image: %d %s", code, out)
	}
	code, out1 := upload(t, stub, large)
	if code != 413 || !strings.Contains(out1, "max_body") {
		t.Errorf("a 1.5 MiB image with the default max_body: %d %s", code, out1)
	}
	if n := len(stub.Requests()); n != 0 {
		t.Errorf("%d refused uploads went upstream", n)
	}

	// An upload's response is verified, also under the path of the unsigned
	// image downloads; a GET there is a download and passes unsigned.
	stub.Reset()
	stub.SetResponse(testkit.StubResponse{Body: answer, NoHeaders: true})
	_, body, ct := testkit.SDKUpload(t, "school.png", small)
	resp, out := send(t, newTester(t), "POST", "/v3/merchant-service/images/upload", body, "Content-Type", ct)
	if resp.StatusCode != 502 || !strings.Contains(string(out), apiv3.CodeSignatureMissing) || strings.Contains(string(out), "media_id") {
		t.Errorf("an unsigned answer to an upload: %d %s", resp.StatusCode, out)
	}
	stub.SetResponse(testkit.StubResponse{Body: "image bytes", NoHeaders: true})
	resp, out = send(t, newTester(t), "GET", "/v3/merchant-service/images/ChsyMzA4MDk2NzI0MzAwODk=", nil)
	if resp.StatusCode != 200 || string(out) != "image bytes" {
		t.Errorf("an image download: %d %s", resp.StatusCode, out)
	}

	loadCaddyfile(t, newTester(t), proxySite{upstream: stub.URL, maxBody: "max_body 6MiB"}.caddyfile(t))
	if code, out := upload(t, stub, large); code != 200 || out != answer {
		t.Errorf("a 1.5 MiB image with max_body 6MiB: %d %s", code, out)
	}
}

// TestIntegrationReadmeUploadExample runs the media upload example of
// docs/uploads.md, with the test keys and the stand-in in place of WeChat
// Pay: a 3 MiB video passes on the upload paths, while other paths keep
// the default max_body of 1 MiB.
func TestIntegrationReadmeUploadExample(t *testing.T) {
	example := testkit.DocsCaddyfile(t, "../docs/uploads.md", "## Raising `max_body` on the upload paths")

	stub := testkit.NewStub(t)
	c := testkit.Creds()
	dir := t.TempDir()
	config := strings.NewReplacer(
		"/etc/wechatpay/apiclient_key.pem", testkit.WriteFile(t, dir, "apiclient_key.pem", testkit.PKCS8(c.MerchantKey)),
		"/etc/wechatpay/pub_key.pem", testkit.WriteFile(t, dir, "pub_key.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)),
		"https://api.mch.weixin.qq.com", strings.TrimPrefix(stub.URL, "http://"),
		":9180 {", proxyURL+" {",
	).Replace(example)
	if !strings.HasPrefix(config, "{\n") || !strings.Contains(config, c.MchID) || !strings.Contains(config, c.PublicKeyID) {
		t.Fatalf("the example changed shape; the test must follow:\n%s", config)
	}
	config = "{\n" + testGlobals("1ns") + config[len("{\n"):]
	tester := newTester(t)
	loadCaddyfile(t, tester, config)

	video := make([]byte, 3<<20)
	rand.Read(video)
	const answer = `{"media_id":"readme-example"}`
	stub.SetResponse(testkit.StubResponse{Body: answer})
	_, body, ct := testkit.SDKUpload(t, "lesson.mp4", video)
	resp, out := send(t, tester, "POST", "/v3/merchant/media/video_upload", body, "Content-Type", ct)
	if resp.StatusCode != 200 || string(out) != answer {
		t.Fatalf("a 3 MiB video through the example of docs/uploads.md: %d %s", resp.StatusCode, out)
	}
	if reqs := stub.Requests(); len(reqs) != 1 || reqs[0].SignatureOK != nil || !bytes.Equal(reqs[0].Body, body) {
		t.Fatalf("the stand-in's view of the upload: %d requests", len(reqs))
	}

	stub.Reset()
	large := `{"appid":"` + strings.Repeat("x", 1<<20) + `"}`
	resp, out = send(t, tester, "POST", "/v3/pay/transactions/native", []byte(large), "Content-Type", "application/json")
	if resp.StatusCode != 413 || len(stub.Requests()) != 0 {
		t.Errorf("a 1 MiB JSON body to another path: %d %s", resp.StatusCode, out)
	}
}

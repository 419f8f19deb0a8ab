package wechatpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
)

// TestServeHTTPMediaUpload sends the SDK's upload body through ServeHTTP:
// it goes on byte for byte with its Content-Type, signed over its meta
// part (the SDK's verifier judges, on the meta read by the standard
// library's form parser).
func TestServeHTTPMediaUpload(t *testing.T) {
	h, logs := provisionedHandler(t, `,"verify_responses":false`)
	stub := testkit.NewStub(t)
	for _, path := range []string{"/v3/merchant/media/upload", "/v3/merchant/media/video_upload",
		"/v3/marketing/favor/media/image-upload", "/v3/merchant-service/images/upload"} {
		_, body, ct := testkit.SDKUpload(t, "school.png", testkit.UploadFile)
		r := httptest.NewRequest("POST", path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w, fw, sent := serve(t, h, r, nil)
		if fw == nil {
			t.Fatalf("%s: refused: %d %s", path, w.Code, w.Body)
		}
		if !bytes.Equal(sent, body) || fw.ContentLength != int64(len(body)) || fw.Header.Get("Content-Type") != ct {
			t.Errorf("%s: forwarded %d bytes (ContentLength %d) as %q; want the %d bytes sent as %q",
				path, len(sent), fw.ContentLength, fw.Header.Get("Content-Type"), len(body), ct)
		}
		if err := stub.CheckSignature(fw, sent); err != nil {
			t.Errorf("%s: the signature does not verify over the meta part: %v", path, err)
		}
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), "PNG") {
			t.Errorf("a log line holds the file: %v", e.ContextMap())
		}
	}
}

// TestServeHTTPMultipartRefused checks that a multipart body the proxy
// could sign otherwise than WeChat Pay reads, or to an endpoint whose
// sensitive fields it could not encrypt, never reaches the next handler.
func TestServeHTTPMultipartRefused(t *testing.T) {
	h, _ := provisionedHandler(t, "")
	_, upload, ct := testkit.SDKUpload(t, "school.png", testkit.UploadFile)
	// The presign request's sensitive fields, as form fields of a
	// multipart body: nothing may encrypt them there.
	var presign bytes.Buffer
	w := multipart.NewWriter(&presign)
	_ = core.CreateFormField(w, "meta", "application/json", []byte(testkit.PresignBody))
	_ = w.WriteField("real_name", testkit.PresignPlain["identity.real_name"])
	_ = w.Close()
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		message                 string
	}{
		{"sensitive endpoint", "/v3/eduschoolpay/contracts/presign", w.FormDataContentType(), presign.Bytes(), "media upload path"},
		{"no meta part", "/v3/merchant/media/upload", ct, bytes.Replace(upload, []byte(`name="meta"`), []byte(`name="data"`), 1), `multipart part \"meta\": is missing`},
		{"truncated", "/v3/merchant/media/upload", ct, upload[:len(upload)-10], "malformed"},
		{"multipart/mixed", "/v3/merchant/media/upload", strings.Replace(ct, "form-data", "mixed", 1), upload, "multipart/form-data"},
	} {
		r := httptest.NewRequest("POST", tc.path, bytes.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.contentType)
		rec, fw, _ := serve(t, h, r, nil)
		if fw != nil {
			t.Errorf("%s: forwarded", tc.name)
			continue
		}
		var e struct{ Code, Message string }
		status, code := 400, codeParamError
		if !proxyhttp.IsUploadPath(tc.path) { // refused for its type before its parts are read
			status, code = 415, codeUnsupportedMediaType
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != status || e.Code != code || !strings.Contains(rec.Body.String(), tc.message) {
			t.Errorf("%s: %d %s; want %d %s mentioning %q", tc.name, rec.Code, rec.Body, status, code, tc.message)
		}
		if strings.Contains(rec.Body.String(), testkit.PresignPlain["identity.real_name"]) {
			t.Errorf("%s: the answer quotes a sensitive value", tc.name)
		}
	}
}

// TestServeHTTPMultipartToSensitiveQueryRefused sends a sensitive query
// parameter as a field of a multipart body, which a server may read as a
// request parameter: it must not go out, whatever the method.
func TestServeHTTPMultipartToSensitiveQueryRefused(t *testing.T) {
	h, _ := provisionedHandler(t, `,"verify_responses":false`)
	const account = "6222021234567890123"
	for _, method := range []string{"GET", "POST"} {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = core.CreateFormField(w, "meta", "application/json", []byte(`{}`))
		_ = w.WriteField("account_number", account)
		_ = w.Close()
		r := httptest.NewRequest(method, "/v3/capital/capitallhh/banks/search-banks-by-bank-account", bytes.NewReader(b.Bytes()))
		r.Header.Set("Content-Type", w.FormDataContentType())
		rec, fw, _ := serve(t, h, r, nil)
		if fw != nil || rec.Code != 415 || !strings.Contains(rec.Body.String(), "media upload path") || strings.Contains(rec.Body.String(), account) {
			t.Errorf("%s: forwarded %v, answer %d %s", method, fw != nil, rec.Code, rec.Body)
		}
	}
}

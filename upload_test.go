package wechatpay

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
)

// uploadFile is an image whose bytes hold what a careless parser trips on:
// CR LF, dashes like a boundary's, and a NUL.
var uploadFile = []byte("\x89PNG\r\n\x1a\n\x00--not-the-boundary\r\n--\r\n" + strings.Repeat("\xff\xd8", 100))

// sdkUpload builds a media upload body the way the official SDK's
// fileuploader does: its meta JSON, and the body with its Content-Type.
func sdkUpload(t testing.TB, filename string, file []byte) (meta []byte, body []byte, contentType string) {
	t.Helper()
	m, err := core.ParameterToJSON(map[string]any{"filename": filename, "sha256": fmt.Sprintf("%x", sha256.Sum256(file))})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := core.CreateFormField(w, "meta", "application/json", []byte(m)); err != nil {
		t.Fatal(err)
	}
	if err := core.CreateFormFile(w, filename, "image/png", file); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(m), buf.Bytes(), w.FormDataContentType()
}

func TestUploadMetaOfSDKBody(t *testing.T) {
	meta, body, ct := sdkUpload(t, "school.png", uploadFile)
	got, err := UploadMeta(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, meta) {
		t.Errorf("meta %q, want the SDK's %q", got, meta)
	}
	// The standard library's form parser, a separate reading, agrees.
	if want, err := signedPart(ct, body); err != nil || !bytes.Equal(got, want) {
		t.Errorf("meta %q, the form parser read %q (%v)", got, want, err)
	}
}

// rawUpload is a multipart/form-data body with boundary "b" made of parts
// given as header lines and content.
func rawUpload(parts ...[2]string) []byte {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--b\r\n" + p[0] + "\r\n\r\n" + p[1] + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return []byte(b.String())
}

func TestUploadMetaKnownAnswers(t *testing.T) {
	metaPart := func(content string) [2]string {
		return [2]string{"Content-Disposition: form-data; name=\"meta\";\r\nContent-Type: application/json", content}
	}
	file := [2]string{"Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png", string(uploadFile)}
	const meta = "{ \"filename\": \"a.png\",\r\n  \"sha256\": \"00\" }"
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		want              string
	}{
		{"meta first", "multipart/form-data; boundary=b", rawUpload(metaPart(meta), file), meta},
		{"meta last", "multipart/form-data; boundary=b", rawUpload(file, metaPart(meta)), meta},
		{"quoted boundary, type in capitals", `Multipart/Form-Data; boundary="b"`, rawUpload(metaPart(meta), file), meta},
		{"preamble before the first part", "multipart/form-data; boundary=b", append([]byte("preamble\r\n"), rawUpload(metaPart(meta), file)...), meta},
		{"binary transfer encoding", "multipart/form-data; boundary=b",
			rawUpload([2]string{"Content-Disposition: form-data; name=\"meta\"\r\nContent-Transfer-Encoding: binary", meta}), meta},
		{"a file named with filename*", "multipart/form-data; boundary=b",
			rawUpload(metaPart(meta), [2]string{"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E5%9B%BE.png", "x"}), meta},
		{"white space after the closing boundary", "multipart/form-data; boundary=b", append(rawUpload(metaPart(meta), file), " \r\n\t\n"...), meta},
		{"white space around the object", "multipart/form-data; boundary=b", rawUpload(metaPart(" \r\n{}\n")), " \r\n{}\n"},
	} {
		got, err := UploadMeta(tc.contentType, tc.body)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestUploadMetaRefusals(t *testing.T) {
	metaPart := func(name, content string) [2]string {
		return [2]string{"Content-Disposition: form-data; name=\"" + name + "\"", content}
	}
	const meta = `{"filename":"a.png","sha256":"00"}`
	file := [2]string{"Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"", "secret-looking file bytes"}
	whole := rawUpload(metaPart("meta", meta), file)
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		field, reason     string
	}{
		{"not a media type", "multipart/", whole, "Content-Type", "not a valid media type"},
		{"multipart/mixed", "multipart/mixed; boundary=b", whole, "Content-Type", "must be multipart/form-data"},
		{"no boundary", "multipart/form-data", whole, "Content-Type", "no boundary"},
		{"other boundary", "multipart/form-data; boundary=c", whole, "", "malformed"},
		{"no closing boundary", "multipart/form-data; boundary=b", whole[:len(whole)-len("--b--\r\n")], `multipart part "file"`, "ends before its closing boundary"},
		{"cut in the meta part", "multipart/form-data; boundary=b", whole[:20], "", "malformed"},
		{"empty body", "multipart/form-data; boundary=b", nil, "", "malformed"},
		{"cut after a delimiter line", "multipart/form-data; boundary=b",
			[]byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n" + meta + "\r\n--b\r\n"), "", "does not end with its closing boundary"},
		{"cut in a part's headers", "multipart/form-data; boundary=b",
			[]byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n" + meta + "\r\n--b\r\nContent-Disposition: form-da"), "", "does not end with its closing boundary"},
		{"parts after the closing boundary", "multipart/form-data; boundary=b",
			append(append([]byte(nil), whole...), rawUpload(metaPart("meta", `{}`))...), "", "does not end with its closing boundary"},
		{"no meta part", "multipart/form-data; boundary=b", rawUpload(file), `multipart part "meta"`, "missing"},
		{"two meta parts", "multipart/form-data; boundary=b", rawUpload(metaPart("meta", meta), file, metaPart("meta", `{}`)), `multipart part "meta"`, "more than once"},
		{"meta in capitals", "multipart/form-data; boundary=b", rawUpload(metaPart("meta", meta), metaPart("META", `{}`), file), `multipart part "META"`, "only by case"},
		// Parts a lenient parser (commons-fileupload: trims names, lets
		// the last parameter win, skips junk, takes any form-data*
		// disposition) would read as a second meta.
		{"meta with a trailing space", "multipart/form-data; boundary=b", rawUpload(metaPart("meta ", `{}`), metaPart("meta", meta)), `multipart part "meta "`, "white space"},
		{"name given twice", "multipart/form-data; boundary=b",
			rawUpload([2]string{`Content-Disposition: form-data; name="x"; name="meta"`, `{}`}, metaPart("meta", meta)), "multipart part 1", "does not parse"},
		{"a stray parameter", "multipart/form-data; boundary=b",
			rawUpload(metaPart("meta", meta), [2]string{`Content-Disposition: form-data; name="meta"; x`, `{}`}), "multipart part 2", "does not parse"},
		{"name* beside name", "multipart/form-data; boundary=b",
			rawUpload([2]string{`Content-Disposition: form-data; name*=utf-8''x; name="meta"`, `{}`}, metaPart("meta", meta)), "multipart part 1", "name*"},
		{"another disposition", "multipart/form-data; boundary=b",
			rawUpload([2]string{`Content-Disposition: form-data-x; name="meta"`, `{}`}, metaPart("meta", meta)), "multipart part 1", "other than form-data"},
		{"two Content-Disposition headers", "multipart/form-data; boundary=b",
			rawUpload(metaPart("meta", meta), [2]string{"Content-Disposition: form-data; name=\"file\"\r\nContent-Disposition: form-data; name=\"meta\"", `{}`}), "multipart part 2", "exactly one Content-Disposition"},
		{"no Content-Disposition", "multipart/form-data; boundary=b",
			rawUpload(metaPart("meta", meta), [2]string{"Content-Type: image/png", "x"}), "multipart part 2", "exactly one Content-Disposition"},
		{"no name", "multipart/form-data; boundary=b",
			rawUpload(metaPart("meta", meta), [2]string{"Content-Disposition: form-data; filename=\"a.png\"", "x"}), "multipart part 2", "no name"},
		{"too many parts", "multipart/form-data; boundary=b",
			rawUpload(append(slices.Repeat([][2]string{metaPart("p", "")}, maxUploadParts), metaPart("meta", meta))...), "", "more than 16 parts"},
		{"quoted-printable meta", "multipart/form-data; boundary=b",
			rawUpload([2]string{"Content-Disposition: form-data; name=\"meta\"\r\nContent-Transfer-Encoding: quoted-printable", meta}), `multipart part "meta"`, "Content-Transfer-Encoding"},
		{"base64 file", "multipart/form-data; boundary=b",
			rawUpload(metaPart("meta", meta), [2]string{"Content-Disposition: form-data; name=\"file\"\r\nContent-Transfer-Encoding: base64", "AAAA"}), `multipart part "file"`, "Content-Transfer-Encoding"},
		{"meta an array", "multipart/form-data; boundary=b", rawUpload(metaPart("meta", `[{}]`), file), `multipart part "meta"`, "one JSON object"},
		{"meta not JSON", "multipart/form-data; boundary=b", rawUpload(metaPart("meta", `{"filename":`), file), `multipart part "meta"`, "one JSON object"},
		{"meta empty", "multipart/form-data; boundary=b", rawUpload(metaPart("meta", ""), file), `multipart part "meta"`, "one JSON object"},
		{"a long part name is cut", "multipart/form-data; boundary=b",
			rawUpload(metaPart("meta", meta), [2]string{"Content-Disposition: form-data; name=\"" + strings.Repeat("n", 500) + "\"\r\nContent-Transfer-Encoding: base64", "AAAA"}),
			`multipart part "` + strings.Repeat("n", 64) + `…"`, "Content-Transfer-Encoding"},
	} {
		_, err := UploadMeta(tc.contentType, tc.body)
		fe, ok := err.(*jsonfield.Error)
		if !ok || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
			t.Errorf("%s: %v; want field %q and reason with %q", tc.name, err, tc.field, tc.reason)
			continue
		}
		if strings.Contains(err.Error(), "secret-looking") || strings.Contains(err.Error(), "sha256") {
			t.Errorf("%s: the error quotes the body: %v", tc.name, err)
		}
	}
}

func TestIsMultipart(t *testing.T) {
	for ct, want := range map[string]bool{
		"multipart/form-data; boundary=b": true, "MULTIPART/mixed": true, "multipart/": true,
		"application/json": false, "": false, "multipar": false, "text/multipart": false,
	} {
		if IsMultipart(ct) != want {
			t.Errorf("IsMultipart(%q) = %v", ct, !want)
		}
	}
}

// TestServeHTTPMediaUpload sends the SDK's upload body through ServeHTTP:
// it goes on byte for byte with its Content-Type, signed over its meta
// part (the SDK's verifier judges, on the meta read by the standard
// library's form parser).
func TestServeHTTPMediaUpload(t *testing.T) {
	h, logs := provisionedHandler(t, `,"verify_responses":false`)
	stub := newStubWechatPay(t)
	for _, path := range []string{"/v3/merchant/media/upload", "/v3/merchant/media/video_upload",
		"/v3/marketing/favor/media/image-upload", "/v3/merchant-service/images/upload"} {
		_, body, ct := sdkUpload(t, "school.png", uploadFile)
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
		if err := stub.checkSignature(fw, sent); err != nil {
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
	_, upload, ct := sdkUpload(t, "school.png", uploadFile)
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
		{"sensitive endpoint", "/v3/eduschoolpay/contracts/presign", w.FormDataContentType(), presign.Bytes(), "sensitive fields"},
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
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 400 || e.Code != CodeParamError || !strings.Contains(rec.Body.String(), tc.message) {
			t.Errorf("%s: %d %s; want 400 PARAM_ERROR mentioning %q", tc.name, rec.Code, rec.Body, tc.message)
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
		if fw != nil || rec.Code != 400 || !strings.Contains(rec.Body.String(), "sensitive fields") || strings.Contains(rec.Body.String(), account) {
			t.Errorf("%s: forwarded %v, answer %d %s", method, fw != nil, rec.Code, rec.Body)
		}
	}
}

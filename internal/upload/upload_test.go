package upload

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

func TestUploadMetaOfSDKBody(t *testing.T) {
	meta, body, ct := testkit.SDKUpload(t, "school.png", testkit.UploadFile)
	got, err := Meta(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, meta) {
		t.Errorf("meta %q, want the SDK's %q", got, meta)
	}
	// The standard library's form parser, a separate reading, agrees.
	if want, err := testkit.SignedPart(ct, body); err != nil || !bytes.Equal(got, want) {
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
	file := [2]string{"Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png", string(testkit.UploadFile)}
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
		got, err := Meta(tc.contentType, tc.body)
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
			rawUpload(append(slices.Repeat([][2]string{metaPart("p", "")}, maxParts), metaPart("meta", meta))...), "", "more than 16 parts"},
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
		_, err := Meta(tc.contentType, tc.body)
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

package upload

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// FuzzUploadMeta checks UploadMeta on any Content-Type and body against
// the standard library's form parser, a separate reading of the same
// body: whatever UploadMeta accepts, the form parser must read as exactly
// one meta field with the same bytes, and encoding/json as one object.
// Run it with
//
//	go test -run XXX -fuzz FuzzUploadMeta -fuzztime 60s .
func FuzzUploadMeta(f *testing.F) {
	_, body, ct := testkit.SDKUpload(f, "school.png", testkit.UploadFile)
	f.Add(ct, body)
	const meta = `{"filename":"a.png","sha256":"00"}`
	f.Add("multipart/form-data; boundary=b", rawUpload([2]string{"Content-Disposition: form-data; name=\"meta\"", meta}))
	f.Add("multipart/form-data; boundary=b", rawUpload(
		[2]string{"Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"", "--b\r"},
		[2]string{"Content-Disposition: form-data; name=\"meta\"; filename=\"meta.json\"", meta}))
	f.Add(`multipart/form-data; boundary="a b"`, []byte("--a b\r\nContent-Disposition: form-data; name=meta\r\n\r\n{}\r\n--a b--"))
	f.Add("multipart/form-data; boundary=b", rawUpload(
		[2]string{"Content-Disposition: form-data; name=\"meta\"\r\nContent-Transfer-Encoding: quoted-printable", "{=22a=22:1}"}))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		meta, err := Meta(contentType, body)
		if err != nil {
			if _, ok := err.(*jsonfield.Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var object map[string]any
		if err := json.Unmarshal(meta, &object); err != nil {
			t.Fatalf("accepted meta %q is not a JSON object: %v", meta, err)
		}
		read, err := testkit.FormMeta(contentType, body)
		if err != nil {
			t.Fatalf("accepted, but the form parser fails: %v", err)
		}
		if len(read) != 1 || !bytes.Equal(read[0], meta) {
			t.Fatalf("signed meta %q; the form parser reads the meta fields %q", meta, read)
		}
	})
}

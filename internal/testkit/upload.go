package testkit

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
)

// FormMeta returns every value of the meta field as the standard
// library's form parser reads it, file parts included.
func FormMeta(contentType string, body []byte) ([][]byte, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, err
	}
	form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(int64(len(body)) + 1)
	if err != nil {
		return nil, err
	}
	defer form.RemoveAll()
	var out [][]byte
	for _, v := range form.Value["meta"] {
		out = append(out, []byte(v))
	}
	for _, fh := range form.File["meta"] {
		file, err := fh.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(file)
		file.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// SignedPart is what WeChat Pay's request signature covers: the body, or
// for a media upload (multipart/form-data) the value of its meta field,
// read with the standard library's form parser (FormMeta).
func SignedPart(contentType string, body []byte) ([]byte, error) {
	if mediaType, _, _ := mime.ParseMediaType(contentType); mediaType != "multipart/form-data" {
		return body, nil
	}
	metas, err := FormMeta(contentType, body)
	if err != nil {
		return nil, fmt.Errorf("multipart body: %v", err)
	}
	if len(metas) != 1 {
		return nil, fmt.Errorf("%d meta fields", len(metas))
	}
	return metas[0], nil
}

// UploadFile is an image whose bytes hold what a careless parser trips on:
// CR LF, dashes like a boundary's, and a NUL.
var UploadFile = []byte("\x89PNG\r\n\x1a\n\x00--not-the-boundary\r\n--\r\n" + strings.Repeat("\xff\xd8", 100))

// SDKUpload builds a media upload body the way the official SDK's
// fileuploader does: its meta JSON, and the body with its Content-Type.
func SDKUpload(t testing.TB, filename string, file []byte) (meta []byte, body []byte, contentType string) {
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

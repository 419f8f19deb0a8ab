package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// Size limits of the media upload endpoints, in bytes of the file part.
const (
	// MaxImageBytes is the largest image MediaUploadPath takes (2 MiB).
	MaxImageBytes = 2 << 20
	// MaxVideoBytes is the largest video VideoUploadPath takes (5 MiB).
	MaxVideoBytes = 5 << 20
)

// formDataType is the media type of the upload endpoints' bodies.
const formDataType = "multipart/form-data"

// formPart is one part of a multipart/form-data body.
type formPart struct {
	name        string // the form field name of Content-Disposition
	filename    string // its filename parameter, if any
	contentType string
	content     []byte // exactly as sent, no transfer decoding
}

// uploadForm is a parsed multipart/form-data request body.
type uploadForm struct {
	parts []formPart
	// meta is the content of the one "meta" part: the body line of the
	// signed message.
	meta []byte
}

// named returns the parts whose form field name is name.
func (f *uploadForm) named(name string) []formPart {
	var out []formPart
	for _, p := range f.parts {
		if p.name == name {
			out = append(out, p)
		}
	}
	return out
}

// formDataBoundary reports whether a Content-Type header names
// multipart/form-data, and its boundary ("" when it has none or its
// parameters do not parse).
func formDataBoundary(contentType string) (isForm bool, boundary string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if mt != formDataType {
		return false, ""
	}
	if err != nil {
		return true, ""
	}
	return true, params["boundary"]
}

// parseFormParts reads every part of a multipart body to the closing
// delimiter. The parts' contents are the raw bytes: NextRawPart applies no
// Content-Transfer-Encoding.
func parseFormParts(boundary string, body []byte) ([]formPart, error) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []formPart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF { // the sentinel, not a wrapped one: a normal end
			break
		}
		if err != nil {
			return nil, fmt.Errorf("part %d: %v", len(parts)+1, err)
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("part %d (%q): %v", len(parts)+1, p.FormName(), err)
		}
		parts = append(parts, formPart{name: p.FormName(), filename: p.FileName(),
			contentType: p.Header.Get("Content-Type"), content: content})
	}
	// multipart.Reader also ends quietly when the body stops right after a
	// delimiter line or inside a part's headers: insist on the closing
	// delimiter, which must follow the last part's content.
	if !closed(body, boundary, parts) {
		return nil, fmt.Errorf("the closing delimiter --%s-- is missing (body truncated?)", boundary)
	}
	return parts, nil
}

// closed reports whether body holds the closing delimiter where the parts
// read from it end.
func closed(body []byte, boundary string, parts []formPart) bool {
	end := "--" + boundary + "--"
	if len(parts) == 0 {
		return bytes.HasPrefix(body, []byte(end)) || bytes.Contains(body, []byte("\n"+end))
	}
	last := parts[len(parts)-1].content
	for _, nl := range []string{"\r\n", "\n"} {
		if bytes.Contains(body, append(slices.Clip(last), nl+end...)) {
			return true
		}
	}
	return false
}

// describeParts lists the parts for the Exchange, without their contents.
func describeParts(parts []formPart) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		name := p.name
		if name == "" {
			name = "(unnamed)"
		}
		b.WriteString(name)
		if p.filename != "" {
			fmt.Fprintf(&b, " %q", p.filename)
		}
		ct := p.contentType
		if ct == "" {
			ct = "no Content-Type"
		}
		fmt.Fprintf(&b, " (%d bytes, %s)", len(p.content), ct)
	}
	return b.String()
}

// readSignedForm parses a multipart/form-data body and picks its one
// "meta" part, whose content is what the Authorization signature covers.
// Failures are 400 PARAM_ERROR: the request is malformed, whatever its
// signature.
func readSignedForm(boundary string, body []byte, x *Exchange) (*uploadForm, *answer) {
	if boundary == "" {
		x.step("multipart", false, "Content-Type multipart/form-data has no boundary parameter (or its parameters do not parse)")
		return nil, paramError("Content-Type为multipart/form-data时须指定boundary",
			fieldDetail("header", "Content-Type", "boundary missing"))
	}
	parts, err := parseFormParts(boundary, body)
	if err != nil {
		x.step("multipart", false, "the body is not a complete multipart/form-data body: "+err.Error())
		return nil, paramError("请求体不是合法的multipart/form-data格式",
			fieldDetail("body", "", "multipart body cannot be parsed: "+err.Error()))
	}
	x.step("multipart", true, fmt.Sprintf("%d parts: %s", len(parts), describeParts(parts)))
	f := &uploadForm{parts: parts}
	switch metas := f.named("meta"); len(metas) {
	case 0:
		x.step("meta part", false, "no part named meta: the signed message has no body line")
		return nil, paramError("multipart/form-data请求体缺少meta部分", fieldDetail("body", "meta", "missing"))
	case 1:
		f.meta = metas[0].content
		x.step("meta part", true, fmt.Sprintf("one meta part, %d bytes: the body line of the signed message", len(f.meta)))
	default:
		x.step("meta part", false, fmt.Sprintf("%d parts named meta: the signed body is ambiguous", len(metas)))
		return nil, paramError("multipart/form-data请求体中meta部分重复", fieldDetail("body", "meta", "more than one meta part"))
	}
	return f, nil
}

// uploadKind is what one upload endpoint takes.
type uploadKind struct {
	what     string   // 图片 or 视频, for the messages
	exts     []string // allowed extensions of meta.filename, lower case
	maxBytes int
}

var (
	imageUpload = uploadKind{what: "图片", exts: []string{"jpg", "jpeg", "bmp", "png"}, maxBytes: MaxImageBytes}
	videoUpload = uploadKind{what: "视频",
		exts:     []string{"avi", "wmv", "mpeg", "mp4", "mov", "mkv", "flv", "f4v", "m4v", "rmvb"},
		maxBytes: MaxVideoBytes}
)

// validate checks the upload form: its meta, its one file, the file's
// SHA-256, the extension of meta.filename and the file's size.
func (k uploadKind) validate(req *request) *answer {
	x, f := req.x, req.form
	meta := gjson.ParseBytes(f.meta)
	if !json.Valid(f.meta) || !meta.IsObject() {
		x.step("meta", false, "the meta part is not a JSON object")
		return paramError("meta不是合法的JSON对象", fieldDetail("body", "meta", "meta is not a JSON object"))
	}
	var filename, digest string
	for _, field := range []struct {
		key string
		to  *string
	}{{"filename", &filename}, {"sha256", &digest}} {
		v := meta.Get(field.key)
		if v.Type != gjson.String || v.Str == "" {
			x.step("meta", false, "meta."+field.key+": required, a non-empty string")
			return paramError(fmt.Sprintf("输入源“/body/meta/%s”映射到值字段“%s”必填性规则校验失败，此字段为必填项", field.key, field.key),
				fieldDetail("body", "meta."+field.key, "required, a non-empty string"))
		}
		*field.to = v.Str
	}
	x.step("meta", true, fmt.Sprintf("filename %q, sha256 %s", filename, digest))

	files := f.named("file")
	if len(files) != 1 {
		issue := "missing"
		msg := fmt.Sprintf("multipart/form-data请求体缺少file部分（%s文件）", k.what)
		if len(files) > 1 {
			issue, msg = "more than one file part", "multipart/form-data请求体中file部分重复"
		}
		x.step("file part", false, fmt.Sprintf("%d parts named file, want exactly one", len(files)))
		return paramError(msg, fieldDetail("body", "file", issue))
	}
	file := files[0]
	x.step("file part", true, fmt.Sprintf("one file part, %d bytes, filename %q, %s", len(file.content), file.filename, file.contentType))

	sum := sha256.Sum256(file.content)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, digest) {
		x.step("file sha256", false, "SHA-256 of the file part is "+got+", meta.sha256 says "+digest)
		return paramError("文件摘要sha256与上传的文件内容不一致，请检查meta中的sha256",
			fieldDetail("body", "meta.sha256", "does not match the SHA-256 of the file"))
	}
	x.step("file sha256", true, "matches meta.sha256")

	ext := strings.ToLower(strings.TrimPrefix(path.Ext(filename), "."))
	if !slices.Contains(k.exts, ext) {
		allowed := strings.ToUpper(strings.Join(k.exts, "、"))
		x.step("file extension", false, fmt.Sprintf("meta.filename %q: extension %q is not one of %s", filename, ext, strings.Join(k.exts, ", ")))
		return paramError(fmt.Sprintf("%s文件名后缀不支持，仅支持%s格式", k.what, allowed),
			fieldDetail("body", "meta.filename", "extension not allowed"))
	}
	x.step("file extension", true, ext)

	if len(file.content) > k.maxBytes {
		x.step("file size", false, fmt.Sprintf("%d bytes, more than the %d allowed", len(file.content), k.maxBytes))
		return paramError(fmt.Sprintf("%s文件大小不能超过%dM", k.what, k.maxBytes>>20),
			fieldDetail("body", "file", fmt.Sprintf("larger than %d bytes", k.maxBytes)))
	}
	x.step("file size", true, fmt.Sprintf("%d bytes, at most %d", len(file.content), k.maxBytes))
	return nil
}

// mediaUpload answers {"media_id": "..."}: 80 random characters of
// [A-Za-z0-9_-], like WeChat Pay's opaque media IDs.
func (s *Server) mediaUpload(req *request) *answer {
	var b [60]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	req.x.step("answer", true, fmt.Sprintf("media_id of %d characters", len(id)))
	return jsonAnswer(http.StatusOK, map[string]string{"media_id": id})
}

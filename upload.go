package wechatpay

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"strings"
)

// UploadMetaPart is the name of the part of a media upload that WeChat Pay
// signs in place of the body.
const UploadMetaPart = "meta"

// IsMultipart reports whether contentType is a multipart media type, the
// kind of body WeChat Pay's media upload endpoints take.
func IsMultipart(contentType string) bool {
	return len(contentType) >= len("multipart/") && strings.EqualFold(contentType[:len("multipart/")], "multipart/")
}

// UploadMeta returns the content of the meta part of a media upload (a
// multipart/form-data body): the bytes that take the body's place in the
// request's signature. contentType is the request's Content-Type, with
// its boundary.
//
// It refuses, with a *FieldError that names the part but never quotes the
// body, anything WeChat Pay might read otherwise than the proxy signs: a
// body that is not multipart/form-data to its closing boundary, no meta
// part or more than one, a part named like meta in another case, a part
// with a Content-Transfer-Encoding that would change its bytes, and a meta
// that is not one JSON object.
func UploadMeta(contentType string, body []byte) ([]byte, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, &FieldError{Field: "Content-Type", Reason: "is not a valid media type"}
	}
	if mediaType != "multipart/form-data" {
		return nil, &FieldError{Field: "Content-Type", Reason: "a media upload must be multipart/form-data, not " + mediaType}
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, &FieldError{Field: "Content-Type", Reason: "multipart/form-data has no boundary parameter"}
	}
	parts := multipart.NewReader(bytes.NewReader(body), boundary)
	var meta []byte
	found := false
	for {
		// A raw part keeps its bytes as sent: NextPart would decode
		// quoted-printable, and sign other bytes than those forwarded.
		part, err := parts.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &FieldError{Reason: "the multipart body is malformed or ends before its closing boundary"}
		}
		name := part.FormName()
		if enc := strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding"))); enc != "" && enc != "7bit" && enc != "8bit" && enc != "binary" {
			return nil, &FieldError{Field: partField(name), Reason: "has a Content-Transfer-Encoding other than 7bit, 8bit or binary"}
		}
		switch {
		case name == UploadMetaPart:
			if found {
				return nil, &FieldError{Field: partField(name), Reason: "appears more than once"}
			}
			found = true
			if meta, err = io.ReadAll(part); err != nil {
				return nil, &FieldError{Field: partField(name), Reason: "is malformed or ends before its closing boundary"}
			}
		case strings.EqualFold(name, UploadMetaPart):
			// A server that matched names without regard to case could
			// take it for the meta part, which is not the one signed.
			return nil, &FieldError{Field: partField(name), Reason: "differs from meta only by case"}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, &FieldError{Field: partField(name), Reason: "is malformed or ends before its closing boundary"}
			}
		}
	}
	if !endsWithClosingDelimiter(body, boundary) {
		// The reader also ends quietly where a body is cut short after a
		// delimiter line or in a part's headers.
		return nil, &FieldError{Reason: "the multipart body does not end with its closing boundary"}
	}
	if !found {
		return nil, &FieldError{Field: partField(UploadMetaPart), Reason: "is missing: WeChat Pay signs a media upload over its meta part"}
	}
	if !isJSONObject(meta) {
		return nil, &FieldError{Field: partField(UploadMetaPart), Reason: "must be one JSON object"}
	}
	return meta, nil
}

// endsWithClosingDelimiter reports whether the first line that starts
// with the closing delimiter (--boundary--) ends the body, with nothing
// but white space and line breaks after it: no epilogue another parser
// could read parts from.
func endsWithClosingDelimiter(body []byte, boundary string) bool {
	closing := "--" + boundary + "--"
	for from := 0; ; {
		i := bytes.Index(body[from:], []byte(closing))
		if i < 0 {
			return false
		}
		i += from
		if i == 0 || body[i-1] == '\n' {
			return len(bytes.Trim(body[i+len(closing):], " \t\r\n")) == 0
		}
		from = i + 1
	}
}

// partField names a multipart part in a FieldError. Part names are the
// app's, never secret, but unbounded.
func partField(name string) string {
	quoted, _ := json.Marshal(truncate(name, 64))
	return "multipart part " + string(quoted)
}

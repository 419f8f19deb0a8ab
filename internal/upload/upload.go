package upload

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
)

// MetaPart is the name of the part of a media upload that WeChat Pay
// signs in place of the body.
const MetaPart = "meta"

// maxParts is the most parts a media upload may have: WeChat Pay's
// have two (meta and file), and each part costs the reader work and memory.
const maxParts = 16

// nameStarParam finds an RFC 2231 name* parameter, which parsers read in
// different ways (Go's merges it into name, others keep both).
var nameStarParam = regexp.MustCompile(`(?i)(^|;)\s*name\*`)

// IsMultipart reports whether contentType is a multipart media type, the
// kind of body WeChat Pay's media upload endpoints take.
func IsMultipart(contentType string) bool {
	return len(contentType) >= len("multipart/") && strings.EqualFold(contentType[:len("multipart/")], "multipart/")
}

// Meta returns the content of the meta part of a media upload (a
// multipart/form-data body): the bytes that take the body's place in the
// request's signature. contentType is the request's Content-Type, with
// its boundary.
//
// It refuses, with a *jsonfield.Error that names the part but never quotes the
// body, anything WeChat Pay might read otherwise than the proxy signs: a
// body that is not multipart/form-data to its closing boundary, no meta
// part or more than one, a part whose Content-Disposition is not one plain
// form-data with a name, a part named like meta in another case or with
// white space, a part with a Content-Transfer-Encoding that would change
// its bytes, more than 16 parts, and a meta that is not one JSON object.
func Meta(contentType string, body []byte) ([]byte, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, &jsonfield.Error{Field: "Content-Type", Reason: "is not a valid media type"}
	}
	if mediaType != "multipart/form-data" {
		return nil, &jsonfield.Error{Field: "Content-Type", Reason: "a media upload must be multipart/form-data, not " + mediaType}
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, &jsonfield.Error{Field: "Content-Type", Reason: "multipart/form-data has no boundary parameter"}
	}
	parts := multipart.NewReader(bytes.NewReader(body), boundary)
	var meta []byte
	found := false
	for count := 1; ; count++ {
		// A raw part keeps its bytes as sent: NextPart would decode
		// quoted-printable, and sign other bytes than those forwarded.
		part, err := parts.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &jsonfield.Error{Reason: "the multipart body is malformed or ends before its closing boundary"}
		}
		if count > maxParts {
			return nil, &jsonfield.Error{Reason: "the multipart body has more than " + strconv.Itoa(maxParts) + " parts"}
		}
		name, err := formPartName(part.Header, count)
		if err != nil {
			return nil, err
		}
		if enc := strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding"))); enc != "" && enc != "7bit" && enc != "8bit" && enc != "binary" {
			return nil, &jsonfield.Error{Field: partField(name), Reason: "has a Content-Transfer-Encoding other than 7bit, 8bit or binary"}
		}
		switch {
		case name == MetaPart:
			if found {
				return nil, &jsonfield.Error{Field: partField(name), Reason: "appears more than once"}
			}
			found = true
			if meta, err = io.ReadAll(part); err != nil {
				return nil, &jsonfield.Error{Field: partField(name), Reason: "is malformed or ends before its closing boundary"}
			}
		case strings.EqualFold(strings.TrimSpace(name), MetaPart):
			// A server that matched names without regard to case, or
			// trimmed them, could take it for the meta part, which is not
			// the one signed.
			return nil, &jsonfield.Error{Field: partField(name), Reason: "differs from meta only by case or white space"}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, &jsonfield.Error{Field: partField(name), Reason: "is malformed or ends before its closing boundary"}
			}
		}
	}
	if !endsWithClosingDelimiter(body, boundary) {
		// The reader also ends quietly where a body is cut short after a
		// delimiter line or in a part's headers.
		return nil, &jsonfield.Error{Reason: "the multipart body does not end with its closing boundary"}
	}
	if !found {
		return nil, &jsonfield.Error{Field: partField(MetaPart), Reason: "is missing: WeChat Pay signs a media upload over its meta part"}
	}
	if !jsonfield.IsObject(meta) {
		return nil, &jsonfield.Error{Field: partField(MetaPart), Reason: "must be one JSON object"}
	}
	return meta, nil
}

// formPartName returns the name of the count-th part of a form: its one
// Content-Disposition must be form-data with a name, spelled so that every
// parser reads the same name (lenient ones accept other dispositions, let a
// repeated parameter win, or skip junk, where Go's parser finds no name).
func formPartName(header textproto.MIMEHeader, count int) (string, error) {
	field := "multipart part " + strconv.Itoa(count)
	values := header.Values("Content-Disposition")
	if len(values) != 1 {
		return "", &jsonfield.Error{Field: field, Reason: "must have exactly one Content-Disposition header"}
	}
	disposition, params, err := mime.ParseMediaType(values[0])
	switch {
	case err != nil:
		return "", &jsonfield.Error{Field: field, Reason: "has a Content-Disposition that does not parse (a repeated or malformed parameter)"}
	case disposition != "form-data":
		return "", &jsonfield.Error{Field: field, Reason: "has a Content-Disposition other than form-data"}
	case nameStarParam.MatchString(values[0]):
		return "", &jsonfield.Error{Field: field, Reason: "is named with name*, which parsers read differently; use name"}
	case params["name"] == "":
		return "", &jsonfield.Error{Field: field, Reason: "has no name in its Content-Disposition"}
	}
	return params["name"], nil
}

// endsWithClosingDelimiter reports whether the first line that starts
// with the closing delimiter (--boundary--) ends the body, with nothing
// but white space and line breaks after it: no epilogue another parser
// could read parts from.
func endsWithClosingDelimiter(body []byte, boundary string) bool {
	closing := []byte("--" + boundary + "--")
	for from := 0; ; {
		i := bytes.Index(body[from:], closing)
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
	quoted, _ := json.Marshal(logtext.Truncate(name, 64))
	return "multipart part " + string(quoted)
}

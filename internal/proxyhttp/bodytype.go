package proxyhttp

import (
	"net/http"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/upload"
)

// A web page can send three body types to any address without a CORS
// preflight: text/plain, application/x-www-form-urlencoded and
// multipart/form-data. Browsers are refused by their headers first
// (the handler's trust boundary); these body types are refused too where no API call
// takes them, so that nothing a page can send unasked is signed.
// application/x-www-form-urlencoded stays: curl and PHP send a JSON body
// with it by default, and where a rule matches only a JSON object passes.
// No Content-Type at all stays too (legacy clients omit it).

// uploadSegments are the last path segments of WeChat Pay's media upload
// endpoints (POST, multipart/form-data with a meta part), among its
// documented APIv3 endpoints: /v3/merchant/media/upload, .../video_upload,
// /v3/marketing/favor/media/image-upload, .../product-coupon/media/upload-image,
// the fapiao and taxi invoice files, the shopping receipts, ...
var uploadSegments = map[string]bool{
	"upload": true, "video_upload": true, "image-upload": true, "upload-image": true,
	"upload-file": true, "upload-fapiao-file": true, "media": true, "shoppingreceipts": true,
}

// CheckBodyType refuses a request body that is text/plain, or multipart
// anywhere but a POST to a media upload path. A request without a body
// is not concerned.
func CheckBodyType(r *http.Request) *Refusal {
	ct := r.Header.Get("Content-Type")
	if ct == "" || r.ContentLength == 0 {
		return nil
	}
	mediaType, _, _ := strings.Cut(ct, ";")
	mediaType = strings.TrimSpace(mediaType)
	switch {
	case strings.EqualFold(mediaType, "text/plain"):
		return &Refusal{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Field: "Content-Type",
			Message: "a text/plain body is not accepted (web pages send it without asking): send the body as application/json"}
	case upload.IsMultipart(mediaType) && !(r.Method == http.MethodPost && IsUploadPath(r.URL.Path)):
		return &Refusal{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Field: "Content-Type",
			Message: "a multipart body is accepted only by a POST to a media upload path: send the body as application/json"}
	}
	return nil
}

// IsUploadPath reports whether path ends with the segment of a media
// upload endpoint.
func IsUploadPath(path string) bool {
	return uploadSegments[path[strings.LastIndexByte(path, '/')+1:]]
}

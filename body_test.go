package wechatpay

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBodyTypesPagesSendRefused: a body a web page can send without a CORS
// preflight is refused where no API call takes it: text/plain always, a
// multipart body off the media upload paths; no Content-Type, JSON and the
// form type curl and PHP default to (with a JSON body) pass.
func TestBodyTypesPagesSendRefused(t *testing.T) {
	h, _ := provisionedHandler(t, `,"request_payment":true`)
	const form = "multipart/form-data; boundary=b"
	multipart := "--b\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n" +
		`{"filename":"a.png","sha256":"x"}` + "\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nPNG\r\n--b--\r\n"
	for _, tc := range []struct {
		name, method, path, contentType, body string
		pass                                  bool
	}{
		{"text/plain", "POST", "/v3/refund/domestic/refunds", "text/plain", `{"out_trade_no":"1"}`, false},
		{"text/plain with a charset", "POST", "/v3/refund/domestic/refunds", "Text/Plain;charset=UTF-8", `{"out_trade_no":"1"}`, false},
		{"text/plain to the re-sign route", "POST", requestPaymentPath, "text/plain", `{"type":"jsapi","appid":"wx1","prepay_id":"wx2"}`, false},
		{"multipart off the upload paths", "POST", "/v3/refund/domestic/refunds", form, multipart, false},
		{"multipart to the re-sign route", "POST", requestPaymentPath, form, multipart, false},
		{"multipart, PUT to an upload path", "PUT", "/v3/merchant/media/upload", form, multipart, false},
		{"multipart upload", "POST", "/v3/merchant/media/upload", form, multipart, true},
		{"multipart video upload", "POST", "/v3/merchant/media/video_upload", form, multipart, true},
		{"multipart marketing image", "POST", "/v3/marketing/favor/media/image-upload", form, multipart, true},
		{"no Content-Type", "POST", "/v3/refund/domestic/refunds", "", `{"out_trade_no":"1"}`, true},
		{"JSON", "POST", "/v3/refund/domestic/refunds", "application/json", `{"out_trade_no":"1"}`, true},
		{"the form type with a JSON body", "POST", "/v3/refund/domestic/refunds", "application/x-www-form-urlencoded", `{"out_trade_no":"1"}`, true},
		{"text/plain without a body", "GET", "/v3/pay/transactions/id/1?mchid=1", "text/plain", "", true},
	} {
		r := httptest.NewRequest(tc.method, "http://127.0.0.1"+tc.path, strings.NewReader(tc.body))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		w, fw, _ := serve(t, h, r, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
		if tc.pass {
			if w.Code == http.StatusUnsupportedMediaType || tc.path != requestPaymentPath && fw == nil {
				t.Errorf("%s: refused %d %s", tc.name, w.Code, w.Body)
			}
			continue
		}
		if fw != nil || w.Code != http.StatusUnsupportedMediaType || !strings.Contains(w.Body.String(), codeUnsupportedMediaType) ||
			!strings.Contains(w.Body.String(), "application/json") {
			t.Errorf("%s: %d %s (forwarded: %v)", tc.name, w.Code, w.Body, fw != nil)
		}
	}
}

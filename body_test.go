package wechatpay

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestRefusedBodyDrained checks how much of a refused body is read: all
// of it when the client is sending it (so that it gets the refusal rather
// than a reset connection), none when the client waits for 100 Continue or
// claims more than max_body (drained only while it keeps arriving, by
// refuse, and the connection closed: TestClaimedTooLargeAnsweredAtOnce).
func TestRefusedBodyDrained(t *testing.T) {
	const max = 1 << 20
	for _, tc := range []struct {
		name          string
		size          int
		contentLength int64 // -1: unknown (chunked)
		header        []string
		status        int
		wantRead      int
	}{
		{"claimed too large", 2 << 20, 2 << 20, nil, 413, 0},
		{"claimed too large, waiting for 100 Continue", 2 << 20, 2 << 20, []string{"Expect", "100-continue"}, 413, 0},
		{"claimed more than the drain limit", 9 << 20, 9 << 20, nil, 413, 0},
		{"chunked, found too large", 3 << 20, -1, nil, 413, 3 << 20},
		{"chunked, found too large after 100 Continue", 3 << 20, -1, []string{"Expect", "100-continue"}, 413, 3 << 20},
		{"chunked, more than max and the drain limit", 12 << 20, -1, nil, 413, max + 1 + refusedBodyDrain},
		{"unsupported encoding", 600 << 10, 600 << 10, []string{"Content-Encoding", "br"}, 415, 600 << 10},
		{"within max", max, max, nil, 0, max},
	} {
		body := &countingBody{r: bytes.NewReader(make([]byte, tc.size))}
		r := httptest.NewRequest("POST", "/v3/merchant/media/upload", nil)
		r.Body, r.ContentLength = body, tc.contentLength
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Set(tc.header[i], tc.header[i+1])
		}
		buf, ae := readRequestBody(r, max)
		status := 0
		if ae != nil {
			status = ae.status
		} else {
			release(buf)
		}
		if status != tc.status || body.read != tc.wantRead {
			t.Errorf("%s: status %d after reading %d bytes; want %d after %d", tc.name, status, body.read, tc.status, tc.wantRead)
		}
	}
}

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

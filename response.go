package wechatpay

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
)

// maxResponseBody bounds how much of a WeChat Pay response is buffered for
// verification. API responses are small JSON documents; unsigned downloads
// (bills, images) are streamed and never buffered.
const maxResponseBody = 16 << 20

// bufferedResponse holds an upstream response until its signature is checked,
// so that no byte of an unverified response reaches the client.
type bufferedResponse struct {
	header      http.Header
	late        http.Header // what is set after the status: trailers, never read
	status      int
	body        *bytes.Buffer
	wroteHeader bool
	overflow    bool
}

func newBufferedResponse(w http.ResponseWriter) *bufferedResponse {
	buf := proxyhttp.NewBuffer()
	return &bufferedResponse{header: w.Header().Clone(), body: buf}
}

// Header implements http.ResponseWriter. Once the status is written, it
// returns a map that is never read: reverse_proxy puts a response's trailers
// in the header map after the body, and WeChat Pay signs no trailer, so
// none may reach the client, as a header or as a trailer.
func (b *bufferedResponse) Header() http.Header {
	if !b.wroteHeader {
		return b.header
	}
	if b.late == nil {
		b.late = make(http.Header)
	}
	return b.late
}

// WriteHeader implements http.ResponseWriter. Informational (1xx) headers
// are not passed on: WeChat Pay does not send them.
func (b *bufferedResponse) WriteHeader(status int) {
	if b.wroteHeader || status < 200 {
		return
	}
	b.status = status
	b.wroteHeader = true
}

// errResponseTooLarge stops reverse_proxy from copying a response that will be
// refused as too large.
var errResponseTooLarge = errors.New("WeChat Pay's answer is larger than the proxy verifies")

// Write implements http.ResponseWriter, buffering up to maxResponseBody.
// Past that, it fails, so that reverse_proxy stops reading: the rest of the
// answer, a gzip stream that decodes to gigabytes say, would cost time and
// CPU for a response that is refused anyway.
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	if b.overflow || b.body.Len()+len(p) > maxResponseBody {
		b.overflow = true
		return 0, errResponseTooLarge
	}
	return b.body.Write(p)
}

// responseTooLarge is the refusal of a response over maxResponseBody.
func responseTooLarge() *apiError {
	return &apiError{status: http.StatusBadGateway, code: codeResponseTooLarge, message: "WeChat Pay's answer is too large to verify"}
}

// Flush is a no-op: nothing is sent before verification.
func (b *bufferedResponse) Flush() {}

// release returns the buffer to the pool.
func (b *bufferedResponse) release() { proxyhttp.Release(b.body) }

// hasSignature reports whether the response carries any signature header.
func hasSignature(h http.Header) bool {
	for _, k := range []string{"Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}

// decodedBody returns the response's body without its content coding: a body
// that WeChat Pay (or something between) compressed is verified and passed
// on as the bytes that were signed.
func (b *bufferedResponse) decodedBody() ([]byte, *apiError) {
	enc := strings.ToLower(strings.TrimSpace(b.header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return b.body.Bytes(), nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b.body.Bytes()))
		if err == nil {
			var out []byte
			out, err = io.ReadAll(io.LimitReader(zr, maxResponseBody+1))
			if err == nil && len(out) > maxResponseBody {
				return nil, responseTooLarge()
			}
			if err == nil {
				b.header.Del("Content-Encoding")
				return out, nil
			}
		}
		return nil, &apiError{status: http.StatusBadGateway, code: codeResponseUnreadable, message: "WeChat Pay's gzip answer could not be decoded", cause: err}
	default:
		return nil, &apiError{status: http.StatusBadGateway, code: codeResponseUnreadable,
			message: "WeChat Pay's answer has Content-Encoding " + strconv.Quote(enc) + ", which the proxy cannot decode to verify"}
	}
}

// writeTo sends the verified response to the client.
func (b *bufferedResponse) writeTo(w http.ResponseWriter, body []byte) {
	// b.header began as a copy of dst (what Caddy and earlier handlers
	// set) and then received the upstream's headers. WeChat Pay signs the
	// body only, so of the upstream's headers only those an API response
	// needs pass: a Set-Cookie or CORS header injected on the way does not.
	dst := w.Header()
	copyPassedHeaders(dst, b.header, passedUpstreamHeader)
	if b.header.Get("Content-Encoding") == "" {
		dst.Del("Content-Encoding")
	}
	dst.Del("Transfer-Encoding")
	if b.status == http.StatusNoContent || b.status == http.StatusNotModified {
		dst.Del("Content-Length")
		w.WriteHeader(b.status)
		return
	}
	dst.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(b.status)
	_, _ = w.Write(body)
}

// copyPassedHeaders sets in dst, the client's header map, the headers of src
// (a copy of dst that then received the upstream's response headers) that
// dst had already or that passed allows.
func copyPassedHeaders(dst, src http.Header, passed func(string) bool) {
	for k, v := range src {
		if _, had := dst[k]; had || passed(k) {
			dst[k] = v
		}
	}
}

// passedUpstreamHeader reports whether an upstream response header reaches the
// client: the content type, WeChat Pay's own headers and Request-ID.
func passedUpstreamHeader(k string) bool {
	switch k {
	case "Content-Type", "Request-Id", "Date", "Content-Language":
		return true
	}
	return strings.HasPrefix(k, "Wechatpay-")
}

// passedDownloadHeader reports whether a header of an unverified response (an
// unsigned download) reaches the client: those of a signed response, and what
// a file download needs.
func passedDownloadHeader(k string) bool {
	switch k {
	case "Content-Length", "Content-Disposition", "Content-Encoding":
		return true
	}
	return passedUpstreamHeader(k)
}

// streamedResponse passes a response that is not verified (an unsigned
// download) to the client as it arrives: a bill can be large, so it is
// never buffered. Its headers are filtered as a verified response's are, when
// the status is written; what is set after that (trailers) is dropped.
type streamedResponse struct {
	http.ResponseWriter
	header      http.Header // the answer's headers until the status is written
	late        http.Header // what is set after it, never read
	wroteHeader bool
}

func newStreamedResponse(w http.ResponseWriter) *streamedResponse {
	return &streamedResponse{ResponseWriter: w, header: w.Header().Clone()}
}

// Header implements http.ResponseWriter.
func (s *streamedResponse) Header() http.Header {
	if !s.wroteHeader {
		return s.header
	}
	if s.late == nil {
		s.late = make(http.Header)
	}
	return s.late
}

// WriteHeader implements http.ResponseWriter: the passed headers go to the
// client with the status. Informational (1xx) responses are not passed on.
func (s *streamedResponse) WriteHeader(status int) {
	if s.wroteHeader || status < 200 {
		return
	}
	s.wroteHeader = true
	copyPassedHeaders(s.ResponseWriter.Header(), s.header, passedDownloadHeader)
	s.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (s *streamedResponse) Write(p []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// FlushError sends what was written so far, as http.ResponseController
// asks of a writer.
func (s *streamedResponse) FlushError() error {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (s *streamedResponse) Flush() { _ = s.FlushError() }

// Unwrap gives http.ResponseController the client's writer (deadlines).
func (s *streamedResponse) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package proxyhttp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// MaxResponseBody bounds how much of a WeChat Pay response is buffered for
// verification. API responses are small JSON documents; unsigned downloads
// (bills, images) are streamed and never buffered.
const MaxResponseBody = 16 << 20

// BufferedResponse holds an upstream response until its signature is checked,
// so that no byte of an unverified response reaches the client.
type BufferedResponse struct {
	header      http.Header
	late        http.Header // what is set after the Status: trailers, never read
	status      int
	body        *bytes.Buffer
	wroteHeader bool
	overflow    bool
}

func NewBufferedResponse(w http.ResponseWriter) *BufferedResponse {
	buf := NewBuffer()
	return &BufferedResponse{header: w.Header().Clone(), body: buf}
}

// Header implements http.ResponseWriter. Once the status is written, it
// returns a map that is never read: reverse_proxy puts a response's trailers
// in the header map after the body, and WeChat Pay signs no trailer, so
// none may reach the client, as a header or as a trailer.
func (b *BufferedResponse) Header() http.Header {
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
func (b *BufferedResponse) WriteHeader(status int) {
	if b.wroteHeader || status < 200 {
		return
	}
	b.status = status
	b.wroteHeader = true
}

// ErrResponseTooLarge stops reverse_proxy from copying a response that will be
// refused as too large.
var ErrResponseTooLarge = errors.New("WeChat Pay's answer is larger than the proxy verifies")

// Write implements http.ResponseWriter, buffering up to MaxResponseBody.
// Past that, it fails, so that reverse_proxy stops reading: the rest of the
// answer, a gzip stream that decodes to gigabytes say, would cost time and
// CPU for a response that is refused anyway.
func (b *BufferedResponse) Write(p []byte) (int, error) {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	if b.overflow || b.body.Len()+len(p) > MaxResponseBody {
		b.overflow = true
		return 0, ErrResponseTooLarge
	}
	return b.body.Write(p)
}

// ResponseTooLarge is the refusal of a response over MaxResponseBody.
func ResponseTooLarge() *Refusal {
	return &Refusal{Status: http.StatusBadGateway, Code: CodeResponseTooLarge, Message: "WeChat Pay's answer is too large to verify"}
}

// Flush is a no-op: nothing is sent before verification.
func (b *BufferedResponse) Flush() {}

// Release returns the buffer to the pool.
func (b *BufferedResponse) Release() { Release(b.body) }

// HasSignature reports whether the response carries any signature header.
func HasSignature(h http.Header) bool {
	for _, k := range []string{"Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}

// DecodedBody returns the response's body without its content coding: a body
// that WeChat Pay (or something between) compressed is verified and passed
// on as the bytes that were signed.
func (b *BufferedResponse) DecodedBody() ([]byte, *Refusal) {
	enc := strings.ToLower(strings.TrimSpace(b.header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return b.body.Bytes(), nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b.body.Bytes()))
		if err == nil {
			var out []byte
			out, err = io.ReadAll(io.LimitReader(zr, MaxResponseBody+1))
			if err == nil && len(out) > MaxResponseBody {
				return nil, ResponseTooLarge()
			}
			if err == nil {
				b.header.Del("Content-Encoding")
				return out, nil
			}
		}
		return nil, &Refusal{Status: http.StatusBadGateway, Code: CodeResponseUnreadable, Message: "WeChat Pay's gzip answer could not be decoded", Cause: err}
	default:
		return nil, &Refusal{Status: http.StatusBadGateway, Code: CodeResponseUnreadable,
			Message: "WeChat Pay's answer has Content-Encoding " + strconv.Quote(enc) + ", which the proxy cannot decode to verify"}
	}
}

// Deliver sends the verified response to the client.
func (b *BufferedResponse) Deliver(w http.ResponseWriter, body []byte) {
	// b.header began as a copy of dst (what Caddy and earlier handlers
	// set) and then received the upstream's headers. WeChat Pay signs the
	// body only, so of the upstream's headers only those an API response
	// needs pass: a Set-Cookie or CORS header injected on the way does not.
	dst := w.Header()
	CopyPassedHeaders(dst, b.header, PassedUpstreamHeader)
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

// CopyPassedHeaders sets in dst, the client's header map, the headers of src
// (a copy of dst that then received the upstream's response headers) that
// dst had already or that passed allows.
func CopyPassedHeaders(dst, src http.Header, passed func(string) bool) {
	for k, v := range src {
		if _, had := dst[k]; had || passed(k) {
			dst[k] = v
		}
	}
}

// PassedUpstreamHeader reports whether an upstream response header reaches the
// client: the content type, WeChat Pay's own headers and Request-ID.
func PassedUpstreamHeader(k string) bool {
	switch k {
	case "Content-Type", "Request-Id", "Date", "Content-Language":
		return true
	}
	return strings.HasPrefix(k, "Wechatpay-")
}

// PassedDownloadHeader reports whether a header of an unverified response (an
// unsigned download) reaches the client: those of a signed response, and what
// a file download needs.
func PassedDownloadHeader(k string) bool {
	switch k {
	case "Content-Length", "Content-Disposition", "Content-Encoding":
		return true
	}
	return PassedUpstreamHeader(k)
}

// StreamedResponse passes a response that is not verified (an unsigned
// download) to the client as it arrives: a bill can be large, so it is
// never buffered. Its headers are filtered as a verified response's are, when
// the status is written; what is set after that (trailers) is dropped.
type StreamedResponse struct {
	http.ResponseWriter
	header      http.Header // the answer's headers until the status is written
	late        http.Header // what is set after it, never read
	wroteHeader bool
}

func NewStreamedResponse(w http.ResponseWriter) *StreamedResponse {
	return &StreamedResponse{ResponseWriter: w, header: w.Header().Clone()}
}

// Header implements http.ResponseWriter.
func (s *StreamedResponse) Header() http.Header {
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
func (s *StreamedResponse) WriteHeader(status int) {
	if s.wroteHeader || status < 200 {
		return
	}
	s.wroteHeader = true
	CopyPassedHeaders(s.ResponseWriter.Header(), s.header, PassedDownloadHeader)
	s.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (s *StreamedResponse) Write(p []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// FlushError sends what was written so far, as http.ResponseController
// asks of a writer.
func (s *StreamedResponse) FlushError() error {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (s *StreamedResponse) Flush() { _ = s.FlushError() }

// WroteHeader reports whether the status was written (and the headers sent).
func (s *StreamedResponse) WroteHeader() bool { return s.wroteHeader }

// Unwrap gives http.ResponseController the client's writer (deadlines).
func (s *StreamedResponse) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Status is the upstream's status (0 before it wrote one).
func (b *BufferedResponse) Status() int { return b.status }

// Received returns the headers as received: what was set before the
// handler ran, then the upstream's (Header, once the status is written,
// returns the map that catches trailers).
func (b *BufferedResponse) Received() http.Header { return b.header }

// WroteHeader reports whether the upstream wrote a status.
func (b *BufferedResponse) WroteHeader() bool { return b.wroteHeader }

// Overflowed reports whether the answer was cut at MaxResponseBody.
func (b *BufferedResponse) Overflowed() bool { return b.overflow }

// Truncated reports whether the upstream declared a longer body than it sent.
func (b *BufferedResponse) Truncated() bool {
	cl := b.header.Get("Content-Length")
	if cl == "" || b.header.Get("Content-Encoding") != "" {
		return false
	}
	n, err := strconv.Atoi(cl)
	return err == nil && n != b.body.Len()
}

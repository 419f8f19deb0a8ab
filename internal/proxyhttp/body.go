package proxyhttp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBody is the request body bound when max_body is not set.
const DefaultMaxBody = 1 << 20

// NewBuffer returns an empty pooled buffer, to be given back with Release.
func NewBuffer() *bytes.Buffer {
	buf := bodyBufPool.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

// initialBodyBuf is the most a body buffer is grown to before any byte
// arrives, and the largest buffer kept in the pool.
const initialBodyBuf = 32 << 10

var bodyBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// refusedBodyDrain is how much of a refused body is read and thrown away
// before the response: a client still sending would otherwise see its
// connection reset (Go's server closes a connection with more than 256 KiB
// unread) instead of the response that says why. It costs no memory.
const refusedBodyDrain = 8 << 20

// ReadBody reads the whole request body, decoded, into a pooled
// buffer, refusing bodies over max bytes (before or after decoding) and
// encodings it cannot decode. The caller returns the buffer with Release.
// Memory use is bounded by max, whatever Content-Length claims.
func ReadBody(r *http.Request, max int64) (*bytes.Buffer, *Refusal) {
	buf := bodyBufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.Body == nil || r.Body == http.NoBody {
		return buf, nil
	}
	tooLarge := func() *Refusal {
		return &Refusal{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
			Message: "request body is larger than max_body (" + strconv.FormatInt(max, 10) + " bytes)"}
	}
	if r.ContentLength > max {
		// Refused on the claim alone: the client may never send what it
		// claims, and waiting for it would hold the connection until a
		// read timeout. Before the answer, refuse drains only what keeps
		// arriving (DrainWhileSending), so that a client still sending
		// gets the answer rather than a reset connection; the HTTP/1
		// connection is closed after it. An HTTP/2 stream needs neither,
		// and its connection carries other streams.
		Release(buf)
		ae := tooLarge()
		ae.CloseConnection = r.ProtoMajor < 2
		return nil, ae
	}
	var src io.Reader = io.LimitReader(r.Body, max+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			Release(buf)
			return nil, &Refusal{Status: http.StatusBadRequest, Code: CodeParamError, Message: "request body is not valid gzip"}
		}
		defer zr.Close()
		src = io.LimitReader(zr, max+1)
	default:
		Release(buf)
		discardRefusedBody(r, false)
		return nil, &Refusal{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedEncoding,
			Message: "request Content-Encoding " + strconv.Quote(enc) + " is not supported; send the body as plain JSON or gzip"}
	}
	// Grow for the claimed length only up to a small bound: memory follows
	// the bytes that arrive, never what a client says it will send.
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, initialBodyBuf)))
	}
	_, err := buf.ReadFrom(src)
	if err != nil {
		Release(buf)
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, tooLarge()
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Refusal{Status: http.StatusBadRequest, Code: CodeParamError, Message: "request body could not be read: " + err.Error()}
		}
		return nil, &Refusal{Status: http.StatusBadRequest, Code: CodeParamError, Message: "request body could not be read"}
	}
	if int64(buf.Len()) > max {
		Release(buf)
		discardRefusedBody(r, true)
		return nil, tooLarge()
	}
	return buf, nil
}

// discardRefusedBody reads what is left of a refused request body, up to
// refusedBodyDrain bytes, so that the client gets the refusal. Until the
// body is first read, a client that waits for "100 Continue" has sent
// nothing; a client that claims more than can be drained is not waited for.
func discardRefusedBody(r *http.Request, readStarted bool) {
	waiting := !readStarted && strings.EqualFold(r.Header.Get("Expect"), "100-continue")
	if waiting || r.ContentLength > refusedBodyDrain {
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, refusedBodyDrain)
}

// Release returns a body buffer to the pool unless it grew large: a few big
// bodies must not pin their memory in the pool for ever.
func Release(buf *bytes.Buffer) {
	if buf == nil || buf.Cap() > 2*initialBodyBuf {
		return
	}
	bodyBufPool.Put(buf)
}

// sendingIdle is how long a refused body may pause before the refusal is
// sent without waiting for more of it.
const sendingIdle = 100 * time.Millisecond

// DrainWhileSending reads and throws away what a client keeps sending of a
// body refused on its claimed length, up to refusedBodyDrain bytes, and
// stops as soon as nothing arrives for sendingIdle: a client that sends
// nothing gets its answer at once, one that is sending is not reset in the
// middle. Without a read deadline (a writer that cannot set one) or with
// "100 Continue" awaited, nothing is read.
func DrainWhileSending(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	rc := http.NewResponseController(w)
	var drained int64
	for drained < refusedBodyDrain {
		if rc.SetReadDeadline(time.Now().Add(sendingIdle)) != nil {
			return
		}
		n, err := io.CopyN(io.Discard, r.Body, min(64<<10, refusedBodyDrain-drained))
		drained += n
		if err != nil {
			break
		}
	}
	_ = rc.SetReadDeadline(time.Time{})
}

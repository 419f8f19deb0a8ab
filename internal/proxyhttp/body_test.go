package proxyhttp

import (
	"bytes"
	"io"
	"net/http/httptest"
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
		buf, rf := ReadBody(r, max)
		status := 0
		if rf != nil {
			status = rf.Status
		} else {
			Release(buf)
		}
		if status != tc.status || body.read != tc.wantRead {
			t.Errorf("%s: status %d after reading %d bytes; want %d after %d", tc.name, status, body.read, tc.status, tc.wantRead)
		}
	}
}

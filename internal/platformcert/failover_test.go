package platformcert

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestURLs(t *testing.T) {
	urls, err := URLs(nil)
	if err != nil || strings.Join(urls, " ") != "https://api.mch.weixin.qq.com/v3/certificates https://api2.mch.weixin.qq.com/v3/certificates" {
		t.Errorf("default: %v %v", urls, err)
	}
	if urls, err := URLs([]string{"http://127.0.0.1:9181/"}); err != nil || len(urls) != 1 || urls[0] != "http://127.0.0.1:9181/v3/certificates" {
		t.Errorf("one URL: %v %v", urls, err)
	}
	for bad, want := range map[string][]string{
		"is not an http(s) URL": {"ftp://example.com"},
		"is given twice":        {"https://a.example", "https://a.example/"},
	} {
		if _, err := URLs(want); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want %q", want, err, bad)
		}
	}
}

// TestRunFirst: a URL out of reach or answering 5xx passes the download to
// the next, which answers; a refusal is final; when every URL fails, the
// error names each in order and wraps the last failure.
func TestRunFirst(t *testing.T) {
	ts := startSandbox(t, false)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var asked atomic.Int32
	answering := func(status int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			asked.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"code":"X","message":"x"}`))
		}))
		t.Cleanup(s.Close)
		return s.URL + Path
	}
	d := download(t, ts.URL, apiv3Key)

	certs, failed, err := d.RunFirst(context.Background(), []string{closed.URL + Path, answering(http.StatusBadGateway), ts.URL + Path})
	if err != nil || len(certs) != 1 || len(failed) != 2 || !strings.HasPrefix(failed[0], closed.URL+Path+": ") {
		t.Fatalf("got %d certificates, failed %q, %v", len(certs), failed, err)
	}

	asked.Store(0)
	refusing := answering(http.StatusBadRequest)
	_, _, err = d.RunFirst(context.Background(), []string{refusing, answering(http.StatusBadGateway)})
	var fe *FailoverError
	if !errors.As(err, &fe) || len(fe.Tried) != 1 || asked.Load() != 1 {
		t.Errorf("a refusal: %v (asked %d), want it final", err, asked.Load())
	}

	_, _, err = d.RunFirst(context.Background(), []string{closed.URL + Path, answering(http.StatusServiceUnavailable)})
	var unavailable *UnavailableError
	if !errors.As(err, &fe) || len(fe.Tried) != 2 || !errors.As(err, &unavailable) || strings.Count(err.Error(), closed.URL) != 1 {
		t.Errorf("every URL down: %v", err)
	}
}

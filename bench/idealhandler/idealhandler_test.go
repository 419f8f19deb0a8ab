package idealhandler

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/floorcrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestForwardsOriginalBody checks that the handler does the crypto and
// passes next the request body exactly as it came.
func TestForwardsOriginalBody(t *testing.T) {
	dir := t.TempDir()
	if _, err := sandbox.GenerateCredentials(dir, ""); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Credentials: dir}
	if err := h.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	var got []byte
	var gotLen int64
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var err error
		got, err = io.ReadAll(r.Body)
		gotLen = r.ContentLength
		w.WriteHeader(http.StatusNoContent)
		return err
	})
	r := httptest.NewRequest(http.MethodPost, floorcrypto.PresignPath, bytes.NewReader(floorcrypto.PresignBody))
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, r, next); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, floorcrypto.PresignBody) || gotLen != int64(len(floorcrypto.PresignBody)) {
		t.Fatalf("next got %d bytes (Content-Length %d), want the original %d", len(got), gotLen, len(floorcrypto.PresignBody))
	}
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d", rec.Code)
	}
}

// TestProvisionNeedsCredentials checks the required option.
func TestProvisionNeedsCredentials(t *testing.T) {
	if err := (&Handler{}).Provision(caddy.Context{}); err == nil {
		t.Fatal("provisioned without credentials")
	}
}

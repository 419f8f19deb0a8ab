package floorcrypto

import (
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestWork checks the inputs, that the work runs and verifies, and that the
// merchant signature goes through the build's backend (OpenSSL when built
// with the tag openssl and libcrypto loads).
func TestWork(t *testing.T) {
	creds, err := sandbox.GenerateCredentials(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(creds)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.values) != len(SensitiveFields) {
		t.Fatalf("%d values, want %d", len(w.values), len(SensitiveFields))
	}
	for i, v := range w.values {
		if len(v) == 0 {
			t.Fatalf("%s is empty in PresignBody", SensitiveFields[i])
		}
	}
	if want := len(PresignBody) + 5*344 + 1; len(w.msg) != want {
		t.Fatalf("message of %d bytes, want %d (the request once its fields are ciphertexts)", len(w.msg), want)
	}
	if name, _, err := rsacrypto.Backend(); err == nil && w.Backend() != name {
		t.Fatalf("the floor signs with %q, the build's backend is %q", w.Backend(), name)
	}
	for range 2 {
		if _, err := w.Do(); err != nil {
			t.Fatal(err)
		}
	}
}

package upstream_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// The stand-in's answers must verify exactly as WeChat Pay's would, or the
// benchmark would measure refusals instead of the verified path.
func TestAnswerVerifiesAndCaptures(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const serial = "PUB_KEY_ID_0114232134912410000000000000"
	s := upstream.New(key, serial)
	v := apiv3.NewVerifier(map[string]*rsa.PublicKey{serial: &key.PublicKey})

	s.Capture()
	for i := range 3 {
		req := httptest.NewRequest(http.MethodPost, "/v3/eduschoolpay/contracts/presign?x=1", strings.NewReader(`{"a":1}`))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != string(upstream.Body) {
			t.Fatalf("answer %d: %d %q", i, rec.Code, rec.Body.String())
		}
		if err := v.Verify(rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("answer %d does not verify: %v", i, err)
		}
	}
	got := s.Captured()
	if got == nil || got.URI != "/v3/eduschoolpay/contracts/presign?x=1" || string(got.Body) != `{"a":1}` {
		t.Fatalf("captured %+v", got)
	}
	if s.Requests() != 3 {
		t.Fatalf("Requests() = %d, want 3", s.Requests())
	}
}

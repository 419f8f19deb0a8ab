package devtools

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestCLINotifyResend: after an acknowledged send, notify prints the
// command that resends the same id; --id sends that id again with a fresh
// signature, as WeChat Pay's resends are. A refused send's hint names both
// places the keys can go: the route's own block, or the merchant's block
// of the app for a `merchant` route.
func TestCLINotifyResend(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kg")
	if out, err := runCLI(t, "keygen", dir); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	type sent struct{ id, signature string }
	var mu sync.Mutex
	var got []sent
	status := 204
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env struct{ ID string }
		_ = json.Unmarshal(b, &env)
		mu.Lock()
		got = append(got, sent{env.ID, r.Header.Get("Wechatpay-Signature")})
		s := status
		mu.Unlock()
		w.WriteHeader(s)
	}))
	defer srv.Close()

	out, err := runCLI(t, "notify", srv.URL, "--dir", dir)
	if err != nil {
		t.Fatalf("notify: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`caddy wechatpay notify \S+ --dir \S+ --id (EV-\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no resend command printed:\n%s", out)
	}
	if out, err := runCLI(t, "notify", srv.URL, "--dir", dir, "--id", m[1]); err != nil {
		t.Fatalf("resend: %v\n%s", err, out)
	}
	if len(got) != 2 || got[0].id != m[1] || got[1].id != m[1] || got[0].signature == got[1].signature {
		t.Errorf("sent %+v, want the id %s twice with two signatures", got, m[1])
	}
	if out, err := runCLI(t, "notify", srv.URL, "--dir", dir, "--id", `EV-1"}`); err == nil {
		t.Errorf("an id that is not one was sent:\n%s", out)
	}

	status = 500
	out, err = runCLI(t, "notify", srv.URL, "--dir", dir)
	if err == nil || !strings.Contains(out, "apiv3_key") || !strings.Contains(out, "wechatpay_notify { merchant <name> }") ||
		!strings.Contains(out, "merchant's block of the global") {
		t.Errorf("the hint of a refused send: %v\n%s", err, out)
	}
}

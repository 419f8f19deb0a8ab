package devtools

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

func TestCLINotify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kg")
	out, err := runCLI(t, "keygen", dir)
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if !strings.Contains(out, sandbox.APIv3KeyFile) || !strings.Contains(out, `apiv3_key "{file.`) {
		t.Errorf("keygen does not mention the APIv3 key file:\n%s", out)
	}
	c, err := sandbox.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, c.APIv3Key) {
		t.Error("keygen prints the APIv3 key itself")
	}

	var mu sync.Mutex
	var bodies [][]byte
	status := 204
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		s := status
		mu.Unlock()
		w.WriteHeader(s)
	}))
	defer srv.Close()

	out, err = runCLI(t, "notify", srv.URL+"/wechatpay/notify", "--dir", dir, "--event", "REFUND.SUCCESS")
	if err != nil || !strings.Contains(out, "HTTP 204") || !strings.Contains(out, "REFUND.SUCCESS") {
		t.Fatalf("notify: %v\n%s", err, out)
	}
	if plain, err := sandbox.OpenNotification(c.APIv3Key, bodies[0]); err != nil || !strings.Contains(string(plain), `"refund_status":"SUCCESS"`) {
		t.Errorf("sent resource: %v %s", err, plain)
	}
	mu.Lock()
	status = 500
	mu.Unlock()
	if out, err := runCLI(t, "notify", srv.URL, "--dir", dir); err == nil {
		t.Errorf("an unacknowledged callback passed:\n%s", out)
	}
	for _, args := range [][]string{
		{"notify"},
		{"notify", "not-a-url", "--dir", dir},
		{"notify", srv.URL, "--dir", dir, "--fault", "gzip"},
		{"notify", srv.URL, "--dir", dir, "--fault", "nonsense"},
	} {
		if out, err := runCLI(t, args...); err == nil {
			t.Errorf("%v succeeded:\n%s", args, out)
		}
	}
}

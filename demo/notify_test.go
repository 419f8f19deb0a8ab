package demo_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/demo"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestSendNotify: SendNotify reports the answer of the route and fails when
// WeChat Pay would have to resend, or when a forged callback is accepted.
func TestSendNotify(t *testing.T) {
	creds, err := sandbox.LoadCredentials(credsDir)
	if err != nil {
		t.Fatal(err)
	}
	status := http.StatusNoContent
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	run := func(o demo.NotifyOptions) (string, error) {
		var out bytes.Buffer
		o.URL, o.Dir = srv.URL+"/wechatpay/notify", credsDir
		err := demo.SendNotify(context.Background(), &out, o)
		return out.String(), err
	}

	out, err := run(demo.NotifyOptions{})
	if err != nil || !strings.Contains(out, "Answer: HTTP 204") || !strings.Contains(out, "✓ acknowledged") ||
		!strings.Contains(out, `"trade_state": "SUCCESS"`) {
		t.Fatalf("SendNotify = %v\n%s", err, out)
	}
	if plain, err := sandbox.OpenNotification(creds.APIv3Key, got); err != nil || !bytes.Contains(plain, []byte(creds.MchID)) {
		t.Errorf("the route got a callback that does not decrypt: %v", err)
	}

	resource := filepath.Join(t.TempDir(), "r.json")
	_ = os.WriteFile(resource, []byte(`{"contract_id":"C-1","state":"SIGNED"}`), 0o600)
	out, err = run(demo.NotifyOptions{Event: "MY.CUSTOM_EVENT", ResourceFile: resource})
	if err != nil || !strings.Contains(out, "MY.CUSTOM_EVENT") || !strings.Contains(out, `"contract_id": "C-1"`) {
		t.Errorf("custom resource: %v\n%s", err, out)
	}
	if plain, _ := sandbox.OpenNotification(creds.APIv3Key, got); string(plain) != `{"contract_id":"C-1","state":"SIGNED"}` {
		t.Errorf("custom resource sent as %s", plain)
	}
	_ = os.WriteFile(resource, []byte(`[1]`), 0o600)
	if _, err := run(demo.NotifyOptions{ResourceFile: resource}); err == nil {
		t.Error("a resource that is not an object was sent")
	}
	if _, err := run(demo.NotifyOptions{Event: "NO.SUCH"}); err == nil {
		t.Error("an unknown sample event was sent")
	}

	if out, err := run(demo.NotifyOptions{Faults: sandbox.Faults{ProbeSignature: true}}); err == nil {
		t.Errorf("a route accepting a forged callback passed\n%s", out)
	}
	status = 401
	if out, err := run(demo.NotifyOptions{Faults: sandbox.Faults{WrongKey: true}}); err != nil || !strings.Contains(out, "refused, as it should be") {
		t.Errorf("refused forged callback: %v\n%s", err, out)
	}
	status = 500
	out, err = run(demo.NotifyOptions{})
	if err == nil || !strings.Contains(out, "apiv3_key") || !strings.Contains(out, creds.PublicKeyID) {
		t.Errorf("unacknowledged: %v\n%s", err, out)
	}
	if strings.Contains(out, creds.APIv3Key) {
		t.Error("the output shows the APIv3 key")
	}
}

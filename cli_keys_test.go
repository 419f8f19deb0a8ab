package wechatpay

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdminKeysOnACaddyWithoutTheModule: an admin API that does not know
// /wechatpay/keys (404) is told apart from one that cannot be reached and
// from other refusals.
func TestAdminKeysOnACaddyWithoutTheModule(t *testing.T) {
	status := http.StatusNotFound
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"not found"}`, status)
	}))
	defer admin.Close()
	addr := strings.TrimPrefix(admin.URL, "http://")

	var out bytes.Buffer
	err := adminKeys(&out, addr, false)
	if err == nil || !strings.Contains(err.Error(), "is that Caddy built with the wechatpay module?") {
		t.Errorf("404: %v", err)
	}
	status = http.StatusInternalServerError
	if err := adminKeys(&out, addr, true); err == nil || strings.Contains(err.Error(), "built with the wechatpay module") {
		t.Errorf("500: %v", err)
	}
	admin.Close()
	if err := adminKeys(&out, addr, false); err == nil || strings.Contains(err.Error(), "built with the wechatpay module") {
		t.Errorf("unreachable: %v", err)
	}
}

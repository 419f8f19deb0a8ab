package proxyhttp

import (
	"net/http/httptest"
	"testing"
)

// TestHostRules: IP literals, localhost and the allow_hosts names pass, a
// wildcard matches one label only, and any other name is refused.
func TestHostRules(t *testing.T) {
	rules, err := CompileAllowHosts([]string{"pay.example.internal", "*.svc.cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:9180": true, "[::1]:9180": true, "localhost": true, "LOCALHOST.:80": true,
		"pay.example.internal": true, "proxy.svc.cluster.local:8080": true,
		"a.b.svc.cluster.local": false, "svc.cluster.local": false, "evil.example": false, "": false, "[::1": false,
	} {
		r := httptest.NewRequest("POST", "/v3/pay/transactions/jsapi", nil)
		r.Host = host
		if got := rules.CheckHost(r) == nil; got != want {
			t.Errorf("Host %q allowed: %v, want %v", host, got, want)
		}
	}
	for _, bad := range [][]string{{"*"}, {"*.local"}, {"a.*.b"}, {"http://x"}, {""}} {
		if _, err := CompileAllowHosts(bad); err == nil {
			t.Errorf("allow_hosts %q accepted", bad)
		}
	}
	r := httptest.NewRequest("POST", "/v3/pay/transactions/jsapi", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if rf := CheckBrowser(r); rf == nil || rf.Code != CodeBrowserRequestRefused || rf.Field != "Sec-Fetch-Site" {
		t.Errorf("CheckBrowser: %+v", rf)
	}
}

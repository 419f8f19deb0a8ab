package rsacrypto

import (
	"runtime"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// Backend's report agrees with the build: crypto/rsa without the openssl
// tag; with it, OpenSSL and its version, or crypto/rsa and the reason.
func TestBackendReport(t *testing.T) {
	name, version, err := Backend()
	t.Logf("Backend() = %q, %q, %v", name, version, err)
	switch {
	case !builtWithOpenSSLTag:
		if name != goBackendName || version != runtime.Version() || err != nil {
			t.Errorf("default build: Backend() = %q, %q, %v", name, version, err)
		}
	case name == openSSLBackendName:
		if err != nil || !strings.HasPrefix(version, "OpenSSL ") {
			t.Errorf("OpenSSL backend: version %q, error %v", version, err)
		}
	default:
		if name != goBackendName || version != runtime.Version() || err == nil {
			t.Errorf("openssl build signing with Go: Backend() = %q, %q, %v; want the reason", name, version, err)
		}
	}
	if n2, v2, err2 := Backend(); n2 != name || v2 != version || err2 != err {
		t.Errorf("a second call says %q, %q, %v", n2, v2, err2)
	}
}

// A key signs with the package's backend.
func TestPrivateKeyBackend(t *testing.T) {
	k, err := NewPrivateKey(testkit.Creds().MerchantKey)
	if err != nil {
		t.Fatal(err)
	}
	if name, _, _ := Backend(); k.Backend() != name {
		t.Errorf("the key signs with %q, the package with %q", k.Backend(), name)
	}
}

package golivecheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestBackup: a TLS server that completes the handshake (with its CA
// trusted) passes; one whose certificate is not trusted, a closed port and
// a non-URL are warnings, never failures; an http URL needs a connection.
func TestBackup(t *testing.T) {
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsServer.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	trusted := tlsServer.Client().Transport.(*http.Transport).TLSClientConfig
	closed := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort())
	for _, tc := range []struct {
		name, url string
		config    *tls.Config
		want      Status
		text      string
	}{
		{"handshake", tlsServer.URL, trusted, OK, "answers a TLS handshake"},
		{"untrusted certificate", tlsServer.URL, nil, Warn, "does not answer a TLS handshake"},
		{"closed port", "https://" + closed, nil, Warn, closed + " does not answer a TLS handshake"},
		{"http", plain.URL, nil, OK, "answers a TCP connection (http: no TLS)"},
		{"http, closed port", "http://" + closed, nil, Warn, "does not answer a TCP connection"},
		{"not a URL", "::", nil, Warn, "is not a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Backup(context.Background(), tc.url, tc.config, 5*time.Second)
			if l.Check != CheckBackup || l.Status != tc.want || !strings.Contains(l.Text, tc.text) {
				t.Errorf("%+v, want %s with %q", l, tc.want, tc.text)
			}
			if l.Status == Warn && l.Text != "" && !strings.Contains(l.Text, "not a URL") && l.Fix == "" {
				t.Error("a warning says nothing to do")
			}
		})
	}
}

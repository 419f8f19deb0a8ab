package wechatpay

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// certificates_url is a list of base URLs tried in order: WeChat Pay's
// domain and its backup by default. The tests provision merchants against
// the sandbox (a WeChat Pay stand-in written apart from the module), with
// addresses that fail in front of it.

// answering starts a server that answers every request with status and a
// JSON body, counting the requests.
func answering(t *testing.T, status int, requests *int) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		*requests++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"code":"SYSTEM_ERROR","message":"stand-in"}`))
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// silent starts a listener that accepts connections and never answers.
func silent(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				<-done
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); close(done) })
	return "http://" + ln.Addr().String()
}

// TestCertificatesURLFailover: a URL that cannot be reached or answers 5xx
// passes the download on to the next, which is used; the failure is
// logged with the URL that failed.
func TestCertificatesURLFailover(t *testing.T) {
	c := testkit.Creds()
	var served int
	for name, first := range map[string]string{
		"refused": "http://" + closedAddr(t),
		"503":     answering(t, http.StatusServiceUnavailable, &served),
	} {
		t.Run(name, func(t *testing.T) {
			cs := testkit.NewCertSandbox(t, nil)
			m := testMerchant(t, "")
			m.CertificatesURL = URLList{first, cs.TS.URL}
			core, logs := observer.New(zap.InfoLevel)
			if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.New(core)); err != nil {
				t.Fatal(err)
			}
			if k := m.currentKeys(); k.serial != c.PlatformSerial {
				t.Errorf("encrypting with %q, want the certificate downloaded from the second URL", k.serial)
			}
			if n := cs.Downloads.Load(); n != 1 {
				t.Errorf("the second URL served %d downloads, want 1", n)
			}
			warned := logs.FilterMessageSnippet("later certificates_url").All()
			if len(warned) != 1 || !strings.Contains(fmt.Sprint(warned[0].ContextMap()["failed"]), first) {
				t.Errorf("logged %v, want one warning naming %s", warned, first)
			}
		})
	}
	if served != 1 {
		t.Errorf("the 5xx URL was asked %d times, want 1", served)
	}
}

// TestCertificatesURLTimeShared: a URL that accepts the connection and never
// answers takes only its share of the download's time (half, here), and the
// next URL gets the rest: without the sharing, the first would take it all
// and the download would fail.
func TestCertificatesURLTimeShared(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	m := testMerchant(t, "")
	m.CertificatesURL = URLList{silent(t), cs.TS.URL}
	// Provisioned only: the download is run below, with a short deadline.
	if err := m.provision("school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	certs, err := m.certs.download(ctx, nil)
	if err != nil || len(certs) != 1 {
		t.Fatalf("downloaded %d certificates: %v", len(certs), err)
	}
}

// TestCertificatesURLRefusalIsFinal: an answer from WeChat Pay that refuses
// the request is final; the next URL is not asked.
func TestCertificatesURLRefusalIsFinal(t *testing.T) {
	c := testkit.Creds()
	for name, tc := range map[string]struct {
		mutate    func(*sandbox.Config)
		publicKey bool
		want      string
	}{
		// The sandbox knows another key for the merchant's serial.
		"401 SIGN_ERROR": {mutate: func(cfg *sandbox.Config) {
			cfg.MerchantCertificate = testkit.SelfSigned(testkit.Rotated().MerchantKey, c.SerialNo, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		}, want: "401 SIGN_ERROR"},
		// A merchant with only the public key: the normal case, at once.
		"404 RESOURCE_NOT_EXISTS": {publicKey: true},
	} {
		t.Run(name, func(t *testing.T) {
			first := testkit.NewCertSandbox(t, tc.mutate)
			first.Srv.SetPublicKeyOnly(tc.publicKey)
			second := testkit.NewCertSandbox(t, nil)
			m := testMerchant(t, "")
			if tc.publicKey {
				m = withPublicKey(t, m)
			}
			m.CertificatesURL = URLList{first.TS.URL, second.TS.URL}
			err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop())
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), first.TS.URL)):
				t.Fatalf("got %v, want an error naming %s and %s", err, first.TS.URL, tc.want)
			case tc.want != "" && strings.Contains(err.Error(), second.TS.URL):
				t.Errorf("the error names the second URL: %v", err)
			}
			if tc.publicKey {
				// The refusal reads as WeChat Pay's "none", not as a failure.
				if !m.certs.notFoundSaid || m.certs.startFailed {
					t.Error("WeChat Pay's 404 RESOURCE_NOT_EXISTS was taken for a failed download")
				}
			}
			if n, m := first.Downloads.Load(), second.Downloads.Load(); n != 1 || m != 0 {
				t.Errorf("the first URL was asked %d times and the second %d times, want 1 and 0", n, m)
			}
		})
	}
}

// TestCertificatesURLAllDown: when every URL fails, the error names each,
// in order, with its failure.
func TestCertificatesURLAllDown(t *testing.T) {
	var served int
	refused, gateway := "http://"+closedAddr(t), answering(t, http.StatusBadGateway, &served)
	m := testMerchant(t, "")
	m.CertificatesURL = URLList{refused, gateway}
	err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop())
	if err == nil {
		t.Fatal("no key, every URL down: accepted")
	}
	msg := err.Error()
	i, j := strings.Index(msg, refused+"/v3/certificates: "), strings.Index(msg, gateway+"/v3/certificates: WeChat Pay answered 502")
	if i < 0 || j < i || !strings.Contains(msg, "connection refused") {
		t.Errorf("got %q, want each URL in order with its failure", msg)
	}
	if strings.Count(msg, refused) != 1 {
		t.Errorf("the first URL is named more than once: %q", msg)
	}
}

// TestCertificatesURLValues: the default is WeChat Pay's domain then its
// backup; each value must be an http(s) URL, given once.
func TestCertificatesURLValues(t *testing.T) {
	urls, err := certificatesURLs(nil)
	if err != nil || strings.Join(urls, " ") != "https://api.mch.weixin.qq.com/v3/certificates https://api2.mch.weixin.qq.com/v3/certificates" {
		t.Errorf("default %v %v", urls, err)
	}
	if urls, err := certificatesURLs(URLList{"http://127.0.0.1:9181/"}); err != nil || len(urls) != 1 || urls[0] != "http://127.0.0.1:9181/v3/certificates" {
		t.Errorf("one URL: %v %v", urls, err)
	}
	for _, bad := range []URLList{{""}, {"ftp://example.com"}, {"api.mch.weixin.qq.com"}, {"https://a.example", "https://a.example/"}} {
		m := testMerchant(t, "")
		m.CertificatesURL = bad
		if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err == nil || !strings.HasPrefix(err.Error(), "certificates_url: ") {
			t.Errorf("%q: %v, want an error about certificates_url", bad, err)
		}
	}
}

// TestCertificatesURLJSON: certificates_url takes one string, as before it
// was a list, or an array; a list of one is written back as a string.
func TestCertificatesURLJSON(t *testing.T) {
	for in, want := range map[string]URLList{
		`{}`:                                 nil,
		`{"certificates_url": ""}`:           nil,
		`{"certificates_url": "http://a"}`:   {"http://a"},
		`{"certificates_url": ["http://a"]}`: {"http://a"},
		`{"certificates_url": ["http://a", "http://b"]}`: {"http://a", "http://b"},
	} {
		var m Merchant
		if err := json.Unmarshal([]byte(in), &m); err != nil || strings.Join(m.CertificatesURL, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q %v, want %q", in, m.CertificatesURL, err, want)
		}
	}
	for _, in := range []string{`{"certificates_url": 9181}`, `{"certificates_url": ["http://a", 1]}`} {
		var m Merchant
		if err := json.Unmarshal([]byte(in), &m); err == nil || !strings.Contains(err.Error(), "certificates_url") {
			t.Errorf("%s: %v, want an error naming certificates_url", in, err)
		}
	}
	for list, want := range map[string]string{
		"http://a":          `{"certificates_url":"http://a"}`,
		"http://a http://b": `{"certificates_url":["http://a","http://b"]}`,
		"":                  `{}`,
	} {
		var l URLList
		if list != "" {
			l = strings.Fields(list)
		}
		out, err := json.Marshal(struct {
			URLs URLList `json:"certificates_url,omitempty"`
		}{l})
		if err != nil || string(out) != want {
			t.Errorf("%q: %s %v, want %s", list, out, err, want)
		}
	}

	// A merchant configured in JSON with the string form downloads as
	// before.
	cs := testkit.NewCertSandbox(t, nil)
	c := testkit.Creds()
	raw, _ := json.Marshal(map[string]any{"merchants": map[string]any{"school": map[string]string{
		"mchid": c.MchID, "serial_no": c.SerialNo, "private_key": testkit.PKCS8(c.MerchantKey),
		"apiv3_key": testkit.CertAPIv3Key, "certificates_url": cs.TS.URL,
	}}})
	app := new(App)
	if err := json.Unmarshal(raw, app); err != nil {
		t.Fatal(err)
	}
	if err := startApp(context.Background(), app, fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if n := cs.Downloads.Load(); n != 1 {
		t.Errorf("%d downloads from the one URL", n)
	}
}

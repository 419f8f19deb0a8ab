package platformcert

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// The downloads run against the sandbox, a WeChat Pay stand-in written apart
// from the module, which checks the request's signature and encrypts and
// signs its response as WeChat Pay does.

const apiv3Key = "TestAPIv3Key0123456789abcdefABCD"

func startSandbox(t *testing.T, publicKeyOnly bool) *httptest.Server {
	t.Helper()
	c := testkit.Creds()
	srv, err := sandbox.New(sandbox.Config{
		MchID:               c.MchID,
		MerchantCertificate: testkit.SelfSigned(c.MerchantKey, c.SerialNo, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)),
		PublicKeyID:         c.PublicKeyID, PublicKeyPrivateKey: c.WechatPayKey,
		PlatformCertificate: c.PlatformCert, PlatformPrivateKey: c.PlatformKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetAPIv3Key(apiv3Key); err != nil {
		t.Fatal(err)
	}
	srv.SetPublicKeyOnly(publicKeyOnly)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func download(t *testing.T, url, key string) *Download {
	t.Helper()
	c := testkit.Creds()
	merchant, err := rsacrypto.NewPrivateKey(c.MerchantKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := apiv3.NewAEAD([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return &Download{Client: http.DefaultClient, URL: url + Path, UserAgent: "platformcert-test",
		Signer: &apiv3.Signer{MchID: c.MchID, SerialNo: c.SerialNo, Key: merchant}, AEAD: aead, Now: time.Now}
}

func TestDownload(t *testing.T) {
	c := testkit.Creds()
	ts := startSandbox(t, false)

	// Trust on first use: the response verifies with the certificate it carries.
	certs, err := download(t, ts.URL, apiv3Key).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || certs[0].Serial != c.PlatformSerial || !certs[0].Key().Equal(&c.PlatformKey.PublicKey) {
		t.Fatalf("downloaded %+v", certs)
	}

	// Anchored: WeChat Pay signs with the public key the request names.
	d := download(t, ts.URL, apiv3Key)
	d.Anchors = map[string]*rsa.PublicKey{c.PublicKeyID: &c.WechatPayKey.PublicKey}
	d.Serial = c.PublicKeyID
	if certs, err := d.Run(context.Background()); err != nil || len(certs) != 1 {
		t.Fatalf("anchored by the public key: %v %v", certs, err)
	}

	// Anchored by another key: refused, naming the code.
	d = download(t, ts.URL, apiv3Key)
	d.Anchors = map[string]*rsa.PublicKey{c.PublicKeyID: &testkit.Rotated().WechatPayKey.PublicKey}
	d.Serial = c.PublicKeyID
	if _, err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), apiv3.CodeSignatureInvalid) {
		t.Errorf("anchored by another key: %v", err)
	}

	// Another APIv3 key cannot open the certificates.
	if _, err := download(t, ts.URL, "0123456789abcdef0123456789abcdef").Run(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "does not decrypt with the APIv3 key") {
		t.Errorf("wrong APIv3 key: %v", err)
	}

	// Another merchant key: WeChat Pay refuses the request.
	d = download(t, ts.URL, apiv3Key)
	d.Signer.Key, _ = rsacrypto.NewPrivateKey(testkit.Rotated().MerchantKey)
	if _, err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong merchant key: %v", err)
	}
}

func TestDownloadPublicKeyOnly(t *testing.T) {
	ts := startSandbox(t, true)
	if _, err := download(t, ts.URL, apiv3Key).Run(context.Background()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a merchant with only the public key: %v, want ErrNotFound", err)
	}
}

// TestDownloadUnavailable: a download that got no answer to go by (no
// connection, a 5xx, an answer cut short, a timeout) is an
// *UnavailableError, which another address of WeChat Pay's may not give;
// an answer about the request itself (a refusal, certificates that do not
// decrypt) is not.
func TestDownloadUnavailable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	answering := func(status int, body string) string {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(ts.Close)
		return ts.URL
	}
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte(`{"data":[`))
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(cut.Close)
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	refusing := startSandbox(t, false) // refuses another merchant key with 401

	for _, tc := range []struct {
		name, url   string
		key         string // the APIv3 key; default apiv3Key
		otherSigner bool
		unavailable bool
	}{
		{name: "no connection", url: closed.URL, unavailable: true},
		{name: "503", url: answering(503, `{"code":"SYSTEM_ERROR","message":"busy"}`), unavailable: true},
		{name: "502 page", url: answering(502, `<html>bad gateway</html>`), unavailable: true},
		{name: "cut short", url: cut.URL, unavailable: true},
		{name: "timeout", url: slow.URL, unavailable: true},
		{name: "400", url: answering(400, `{"code":"PARAM_ERROR","message":"no"}`)},
		{name: "429", url: answering(429, `{"code":"FREQUENCY_LIMITED","message":"slow down"}`)},
		{name: "401 from WeChat Pay", url: refusing.URL, otherSigner: true},
		{name: "does not decrypt", url: refusing.URL, key: "0123456789abcdef0123456789abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == "" {
				key = apiv3Key
			}
			d := download(t, tc.url, key)
			if tc.otherSigner {
				d.Signer.Key, _ = rsacrypto.NewPrivateKey(testkit.Rotated().MerchantKey)
			}
			wait := 30 * time.Second // generous: only the slow server needs it
			if tc.url == slow.URL {
				wait = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_, err := d.Run(ctx)
			var ue *UnavailableError
			if err == nil || errors.As(err, &ue) != tc.unavailable {
				t.Errorf("%v: unavailable %v, want %v", err, errors.As(err, &ue), tc.unavailable)
			}
		})
	}
}

// TestKeepingRules: Merge keeps the unexpired certificates, one per serial
// (the newer list's), newest first; NewestEffective picks the newest already
// valid.
func TestKeepingRules(t *testing.T) {
	now := time.Now()
	key := testkit.Creds().PlatformKey
	cert := func(serial string, from, to time.Duration) *Certificate {
		c, err := Parse([]byte(testkit.CertPEM(testkit.SelfSigned(key, serial, now.Add(from), now.Add(to)))))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := cert("A1", -48*time.Hour, 24*time.Hour)
	expired := cert("B2", -48*time.Hour, -time.Hour)
	current := cert("C3", -time.Hour, 48*time.Hour)
	future := cert("D4", time.Hour, 72*time.Hour)
	current2 := cert("C3", -time.Hour, 48*time.Hour)

	got := Merge(now, []*Certificate{old, expired, current}, []*Certificate{future, current2})
	var serials []string
	for _, c := range got {
		serials = append(serials, c.Serial)
	}
	if strings.Join(serials, ",") != "D4,C3,A1" {
		t.Errorf("merged %v, want D4,C3,A1 (newest first, expired left out)", serials)
	}
	if got[1] != current2 {
		t.Error("the newer list's copy of a serial must win")
	}
	if c := NewestEffective(now, got); c == nil || c.Serial != "C3" {
		t.Errorf("newest effective is not C3 (D4 is not valid yet): %v", c != nil)
	}
	if NewestEffective(now, []*Certificate{future}) != nil {
		t.Error("a certificate not yet valid was chosen")
	}
	if _, err := Parse([]byte("not a certificate")); err == nil {
		t.Error("Parse accepted text that is no certificate")
	}
}

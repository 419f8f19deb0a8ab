package golivecheck

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// standIn is WeChat Pay written in the test: it checks the request the
// check sends (with crypto/rsa, apart from the module's signer) and gives
// the answer answer writes.
func standIn(t *testing.T, answer func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	c := testkit.Creds()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := testkit.AuthorizationRE.FindStringSubmatch(r.Header.Get("Authorization"))
		switch {
		case r.Method != http.MethodGet || r.URL.RequestURI() != "/v3/certificates":
			t.Errorf("the check sent %s %s, want GET /v3/certificates", r.Method, r.URL.RequestURI())
		case r.UserAgent() != "check-test" || r.Header.Get("Accept") != "application/json":
			t.Errorf("User-Agent %q, Accept %q", r.UserAgent(), r.Header.Get("Accept"))
		case m == nil:
			t.Errorf("Authorization %q is not WeChat Pay's form", r.Header.Get("Authorization"))
		case m[1] != c.MchID || m[5] != c.SerialNo:
			t.Errorf("Authorization names mchid %s, serial %s", m[1], m[5])
		default:
			sig, _ := base64.StdEncoding.DecodeString(m[3])
			sum := sha256.Sum256([]byte("GET\n/v3/certificates\n" + m[4] + "\n" + m[2] + "\n\n"))
			if err := rsa.VerifyPKCS1v15(&c.MerchantKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
				t.Errorf("the request's signature does not verify: %v", err)
			}
		}
		answer(w)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// signed writes a signed answer, as WeChat Pay does, dated now.
func signed(t *testing.T, key *rsa.PrivateKey, serial string, status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		testkit.SignWechatPay(t, w.Header(), key, serial, time.Now().Unix(), "0123456789abcdef0123456789abcdef", []byte(body), "")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// newCall returns a call of the test merchant to url, trusting the
// test WeChat Pay public key.
func newCall(t *testing.T, url string) *Call {
	t.Helper()
	c := testkit.Creds()
	key, err := rsacrypto.NewPrivateKey(c.MerchantKey)
	if err != nil {
		t.Fatal(err)
	}
	return &Call{Client: &http.Client{Timeout: 10 * time.Second}, URL: url + "/v3/certificates", UserAgent: "check-test",
		Signer:  &apiv3.Signer{MchID: c.MchID, SerialNo: c.SerialNo, Key: key},
		Trusted: map[string]*rsa.PublicKey{c.PublicKeyID: &c.WechatPayKey.PublicKey}, Serial: c.PublicKeyID}
}

// statuses returns "check:status" for each line.
func statuses(lines []Line) string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Check+":"+string(l.Status))
	}
	return strings.Join(out, " ")
}

// TestCallAnswers: what each answer WeChat Pay (or something in its
// place) may give makes of the three lines.
func TestCallAnswers(t *testing.T) {
	c := testkit.Creds()
	notFound := `{"code":"RESOURCE_NOT_EXISTS","message":"无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥"}`
	aead, err := apiv3.NewAEAD([]byte(testkit.CertAPIv3Key))
	if err != nil {
		t.Fatal(err)
	}
	otherAEAD, _ := apiv3.NewAEAD([]byte(strings.Repeat("k", 32)))
	list := certificateListJSON(t, aead)
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter)
		call   func(*Call)
		want   string // statuses
		text   string // in the line of the first non-ok status, text or fix
	}{
		{name: "404 signed with the public key",
			answer: signed(t, c.WechatPayKey, c.PublicKeyID, 404, notFound),
			want:   "signature:ok answer:ok clock:ok", text: "WeChat Pay signed with the WeChat Pay public key " + c.PublicKeyID},
		{name: "401 with WeChat Pay's serial message",
			answer: signed(t, c.WechatPayKey, c.PublicKeyID, 401, `{"code":"SIGN_ERROR","message":"商户证书序列号有误。请使用签名私钥匹配的证书序列号"}`),
			want:   "signature:fail answer:ok clock:ok", text: `401 SIGN_ERROR "商户证书序列号有误。请使用签名私钥匹配的证书序列号" → serial_no:`},
		{name: "unsigned 401",
			answer: func(w http.ResponseWriter) {
				w.WriteHeader(401)
				_, _ = w.Write([]byte(`{"code":"SIGN_ERROR","message":"错误的签名，验签失败","detail":{"field":"signature"}}`))
			},
			want: "signature:fail answer:skipped clock:ok", text: "private_key:"},
		{name: "a gateway's unsigned 502",
			answer: func(w http.ResponseWriter) { w.WriteHeader(502); _, _ = w.Write([]byte("<html>bad gateway</html>")) },
			want:   "signature:fail answer:skipped clock:ok", text: "WeChat Pay (or a gateway before it) failed: 502"},
		{name: "unsigned 404",
			answer: func(w http.ResponseWriter) { w.WriteHeader(404); _, _ = w.Write([]byte(notFound)) },
			want:   "signature:ok answer:fail clock:ok", text: "no signature"},
		{name: "signed by a key nobody configured",
			answer: signed(t, testkit.NewKey(), c.PublicKeyID, 404, notFound),
			want:   "signature:ok answer:fail clock:ok", text: "public_key: it is not the WeChat Pay public key of " + c.PublicKeyID},
		{name: "signed with a platform certificate not configured",
			answer: signed(t, c.PlatformKey, c.PlatformSerial, 404, notFound),
			want:   "signature:ok answer:fail clock:ok", text: "platform_certificate: add the platform certificate"},
		{name: "the certificate list, signed by the certificate, nothing configured",
			answer: signed(t, c.PlatformKey, c.PlatformSerial, 200, list),
			call:   func(cl *Call) { cl.Trusted, cl.Serial, cl.AEAD = nil, "", aead },
			want:   "signature:ok apiv3_key:ok answer:ok clock:ok", text: "platform certificate " + c.PlatformSerial + " (listed in the answer)"},
		{name: "the certificate list under another APIv3 key",
			answer: signed(t, c.PlatformKey, c.PlatformSerial, 200, list),
			call:   func(cl *Call) { cl.Trusted, cl.Serial, cl.AEAD = nil, "", otherAEAD },
			want:   "signature:ok apiv3_key:fail answer:skipped clock:ok", text: "apiv3_key must be the APIv3 key"},
		{name: "the certificate list with a serial that is not the certificate's",
			answer: signed(t, c.PlatformKey, c.PlatformSerial, 200, strings.Replace(list, c.PlatformSerial, "1111111111111111111111111111111111111111", 1)),
			call:   func(cl *Call) { cl.Trusted, cl.Serial, cl.AEAD = nil, "", aead },
			want:   "signature:ok apiv3_key:fail answer:skipped clock:ok", text: "the certificate's own serial is " + c.PlatformSerial},
		{name: "404 for a merchant that only downloads certificates",
			answer: signed(t, c.WechatPayKey, c.PublicKeyID, 404, notFound),
			call:   func(cl *Call) { cl.Trusted, cl.Serial, cl.AEAD = nil, "", aead },
			want:   "signature:ok answer:fail clock:ok", text: "configure public_key_id and public_key"},
		{name: "no Date header",
			answer: func(w http.ResponseWriter) {
				w.Header()["Date"] = nil // net/http adds none
				signed(t, c.WechatPayKey, c.PublicKeyID, 404, notFound)(w)
			},
			want: "signature:ok answer:ok clock:warn", text: "no Date header"},
		{name: "Date 2 minutes behind",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Date", time.Now().Add(-2*time.Minute).UTC().Format(http.TimeFormat))
				signed(t, c.WechatPayKey, c.PublicKeyID, 404, notFound)(w)
			},
			want: "signature:ok answer:ok clock:fail", text: "s ahead of WeChat Pay"},
		{name: "a serial that is not one",
			answer: signed(t, c.PlatformKey, "5157F09E ✓ answer: verified"+strings.Repeat("!", 100), 404, notFound),
			want:   "signature:ok answer:fail clock:ok", text: `platform certificate "5157F09E ✓ answer: verified!!!`},
		{name: "an answer from something else",
			answer: func(w http.ResponseWriter) { w.WriteHeader(403); _, _ = w.Write([]byte(`{"error":"forbidden"}`)) },
			want:   "signature:fail answer:skipped clock:ok", text: "unexpected answer to GET /v3/certificates: 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call := newCall(t, standIn(t, tc.answer).URL)
			if tc.call != nil {
				tc.call(call)
			}
			lines := call.Run(context.Background())
			if got := statuses(lines); got != tc.want {
				t.Fatalf("lines %s, want %s: %+v", got, tc.want, lines)
			}
			for _, l := range lines {
				if strings.Contains(l.Text+" → "+l.Fix, tc.text) {
					return
				}
			}
			t.Errorf("no line says %q: %+v", tc.text, lines)
		})
	}
}

// certificateListJSON is a GET /v3/certificates answer listing the test
// platform certificate, encrypted under aead by hand.
func certificateListJSON(t *testing.T, aead interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
}) string {
	t.Helper()
	c := testkit.Creds()
	nonce := "0123456789ab"
	ct := aead.Seal(nil, []byte(nonce), []byte(testkit.CertPEM(c.PlatformCert)), []byte("certificate"))
	body, err := json.Marshal(map[string]any{"data": []map[string]any{{
		"serial_no": c.PlatformSerial, "effective_time": "2024-01-01T00:00:00+08:00", "expire_time": "2029-01-01T00:00:00+08:00",
		"encrypt_certificate": map[string]string{"algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
			"associated_data": "certificate", "ciphertext": base64.StdEncoding.EncodeToString(ct)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestCallUnreachable: no answer fails the signature line, naming the URL,
// and skips the two lines that need one.
func TestCallUnreachable(t *testing.T) {
	url := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort())
	lines := newCall(t, url).Run(context.Background())
	if got := statuses(lines); got != "signature:fail answer:skipped clock:skipped" {
		t.Fatalf("lines %s", got)
	}
	if !strings.Contains(lines[0].Text, "no answer from "+url+"/v3/certificates: ") || !strings.Contains(lines[0].Fix, "--url") {
		t.Errorf("signature line %+v", lines[0])
	}
}

// TestCallPrintsNoSecret: no line of any outcome holds the merchant key,
// the request's signature or its Authorization header.
func TestCallPrintsNoSecret(t *testing.T) {
	var auth string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"code":"SIGN_ERROR","message":"错误的签名，验签失败"}`))
	}))
	defer ts.Close()
	lines := newCall(t, ts.URL).Run(context.Background())
	m := testkit.AuthorizationRE.FindStringSubmatch(auth)
	if m == nil {
		t.Fatalf("Authorization %q", auth)
	}
	out, _ := json.Marshal(lines)
	der := base64.StdEncoding.EncodeToString(testkit.Creds().MerchantKey.D.Bytes())
	for _, secret := range []string{m[3], m[3][:16], apiv3.AuthScheme, der[:16]} {
		if strings.Contains(string(out), secret) {
			t.Errorf("a line holds %q: %s", secret, out)
		}
	}
}

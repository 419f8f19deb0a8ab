package wechatpay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// testMerchant is the test merchant downloading from url, with no WeChat
// Pay key configured.
func testMerchant(t testing.TB, url string) *Merchant {
	c := testkit.Creds()
	return &Merchant{MchID: c.MchID, SerialNo: c.SerialNo, PrivateKey: testkit.PKCS8(c.MerchantKey),
		APIv3Key: testkit.CertAPIv3Key, CertificatesURL: URLList{url}}
}

// withPublicKey adds the WeChat Pay public key to m.
func withPublicKey(t testing.TB, m *Merchant) *Merchant {
	c := testkit.Creds()
	m.PublicKeyID, m.PublicKey = c.PublicKeyID, testkit.PublicPEM(&c.WechatPayKey.PublicKey)
	return m
}

func fileStorage(t testing.TB) *certmagic.FileStorage {
	return &certmagic.FileStorage{Path: t.TempDir()}
}

// downloadedOnce starts the simulator and a file storage, and provisions an
// app whose merchant "school" has downloaded its certificates into it.
func downloadedOnce(t *testing.T) (*testkit.CertSandbox, *certmagic.FileStorage, *App) {
	t.Helper()
	cs := testkit.NewCertSandbox(t, nil)
	storage := fileStorage(t)
	first := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, cs.TS.URL)}}
	if err := startApp(context.Background(), first, storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	return cs, storage, first
}

// signedBy asks the sandbox for a response signed by the key named serial
// (the sandbox's default key when ""), and returns its header and body.
func signedBy(t *testing.T, cs *testkit.CertSandbox, m *Merchant, serial string) (http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, cs.TS.URL+sandbox.CertificatesPath, nil)
	nonce, _ := apiv3.NewNonce()
	auth, err := m.currentSigner().Authorization("GET", sandbox.CertificatesPath, time.Now().Unix(), nonce, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("User-Agent", "test")
	if serial != "" {
		req.Header.Set("Wechatpay-Serial", serial)
	}
	resp, err := cs.TS.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if got := resp.Header.Get("Wechatpay-Serial"); serial != "" && got != serial {
		t.Fatalf("the sandbox signed with %s, not %s", got, serial)
	}
	return resp.Header, []byte(body.String())
}

func TestCertificatesFirstDownload(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	storage := fileStorage(t)
	m := testMerchant(t, cs.TS.URL)
	if err := startMerchant(context.Background(), m, "school", storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	k := m.currentKeys()
	if k.serial != c.PlatformSerial || k.encrypter == nil || k.encrypter.Key().N.Cmp(c.PlatformKey.N) != 0 {
		t.Fatalf("encrypting with %q, want the downloaded platform certificate %s", k.serial, c.PlatformSerial)
	}
	if got := serials(m.platformCertificates()); len(got) != 1 || got[0] != c.PlatformSerial {
		t.Errorf("certificates %v", got)
	}
	if n := cs.Downloads.Load(); n != 1 {
		t.Errorf("%d downloads", n)
	}
	raw, err := storage.Load(context.Background(), certstore.Key(c.MchID))
	if err != nil || !strings.Contains(string(raw), c.PlatformSerial) || strings.Contains(string(raw), testkit.CertAPIv3Key) {
		t.Fatalf("stored document: %v\n%s", err, raw)
	}
	header, body := signedBy(t, cs, m, c.PlatformSerial)
	if err := m.currentKeys().verifier.Verify(header, body); err != nil {
		t.Errorf("an answer signed by the downloaded certificate: %v", err)
	}
}

func TestCertificatesPublicKeyVerifiesDownload(t *testing.T) {
	c := testkit.Creds()
	var named []string
	var mu sync.Mutex
	cs := testkit.NewCertSandbox(t, func(cfg *sandbox.Config) {
		cfg.Observer = func(x sandbox.Exchange) {
			mu.Lock()
			named = append(named, x.Header.Get("Wechatpay-Serial"), x.ResponseHeader.Get("Wechatpay-Serial"))
			mu.Unlock()
		}
	})
	m := withPublicKey(t, testMerchant(t, cs.TS.URL))
	if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if len(named) != 2 || named[0] != c.PublicKeyID || named[1] != c.PublicKeyID {
		t.Errorf("request named / answer signed by %v, want the configured public key", named)
	}
	k := m.currentKeys()
	if k.serial != c.PublicKeyID || k.byID[c.PlatformSerial] == nil {
		t.Errorf("encrypting with %s; trusted %d keys", k.serial, len(k.byID))
	}
}

func TestCertificatesRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*sandbox.Config)
		apiv3  string
		want   string
	}{
		"wrong APIv3 key":  {apiv3: strings.Repeat("x", 32), want: "does not decrypt with the APIv3 key"},
		"forged signature": {mutate: func(c *sandbox.Config) { c.Faults.WrongKey = true }, want: "SIGNATURE_INVALID"},
		"unknown signer": {mutate: func(c *sandbox.Config) { c.SignWith = sandbox.SignWithPublicKey },
			want: "SERIAL_UNKNOWN"},
		"stale answer": {mutate: func(c *sandbox.Config) { c.Faults.StaleTimestamp = true }, want: "TIMESTAMP_EXPIRED"},
	} {
		t.Run(name, func(t *testing.T) {
			cs := testkit.NewCertSandbox(t, tc.mutate)
			m := testMerchant(t, cs.TS.URL)
			if tc.apiv3 != "" {
				m.APIv3Key = tc.apiv3
			}
			err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			}
			if strings.Contains(err.Error(), testkit.CertAPIv3Key) || (tc.apiv3 != "" && strings.Contains(err.Error(), tc.apiv3)) {
				t.Error("the error quotes the APIv3 key")
			}
		})
	}
}

func TestCertificatesRotation(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	m := testMerchant(t, cs.TS.URL)
	if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	next, err := cs.Srv.RotatePlatformCertificate(0)
	if err != nil {
		t.Fatal(err)
	}
	nextSerial := pemkey.CertificateSerial(next)
	before := m.currentKeys().verifier
	if _, err := m.certs.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if got := serials(m.platformCertificates()); len(got) != 2 || got[0] != nextSerial {
		t.Fatalf("after rotation: %v, want the new certificate first, then %s", got, c.PlatformSerial)
	}
	if k := m.currentKeys(); k.serial != nextSerial {
		t.Errorf("encrypting with %s, want the new certificate", k.serial)
	}
	for _, serial := range []string{c.PlatformSerial, nextSerial} {
		header, body := signedBy(t, cs, m, serial)
		if err := m.currentKeys().verifier.Verify(header, body); err != nil {
			t.Errorf("answer signed by %s: %v", serial, err)
		}
	}
	header, body := signedBy(t, cs, m, nextSerial)
	if before.Verify(header, body) == nil {
		t.Error("the verifier from before the refresh knew the new certificate")
	}

	// WeChat Pay stops listing the old certificate: it stays trusted
	// until it expires.
	cs.Srv.RetirePlatformCertificate(c.PlatformSerial)
	if _, err := m.certs.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if got := serials(m.platformCertificates()); len(got) != 2 {
		t.Errorf("after the old certificate left the list: %v, want both until it expires", got)
	}
}

func TestCertificatesExpiry(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	next, err := cs.Srv.RotatePlatformCertificate(48 * time.Hour) // outlives c.PlatformCert by a day
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	m := testMerchant(t, cs.TS.URL)
	m.now = func() time.Time { return *now.Load() }
	if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if len(m.platformCertificates()) != 2 {
		t.Fatalf("got %v", serials(m.platformCertificates()))
	}
	later := c.PlatformCert.NotAfter.Add(time.Second)
	now.Store(&later)
	m.certs.adopt(m.certs.certificates())
	if got := serials(m.platformCertificates()); len(got) != 1 || got[0] != pemkey.CertificateSerial(next) {
		t.Fatalf("after the first certificate expired: %v", got)
	}
	if k := m.currentKeys(); k.byID[c.PlatformSerial] != nil {
		t.Error("the expired certificate is still trusted")
	}
	end := next.NotAfter.Add(time.Second)
	now.Store(&end)
	m.certs.adopt(m.certs.certificates())
	if k := m.currentKeys(); k.encrypter != nil || len(k.byID) != 0 {
		t.Errorf("with every certificate expired: encrypting with %q, %d keys", k.serial, len(k.byID))
	}
	// A download holding only expired certificates is refused.
	if _, err := m.certs.refresh(context.Background(), true); err == nil || !strings.Contains(err.Error(), "no unexpired") {
		t.Errorf("download of expired certificates: %v", err)
	}
}

func TestCertificatesPublicKeyOnly(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	cs.Srv.SetPublicKeyOnly(true)
	core, logs := observer.New(zap.InfoLevel)
	storage := fileStorage(t)
	m := withPublicKey(t, testMerchant(t, cs.TS.URL))
	if err := startMerchant(context.Background(), m, "school", storage, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	if k := m.currentKeys(); k.serial != c.PublicKeyID || len(k.byID) != 1 {
		t.Errorf("keys: %s, %d", k.serial, len(k.byID))
	}
	// Within the interval: no new request; after it, one request; one log line in all.
	if res, err := m.certs.refresh(context.Background(), false); err != nil || res != refreshNotFound {
		t.Errorf("refresh: %v %v", res, err)
	}
	if _, err := m.certs.refresh(context.Background(), true); err != nil {
		t.Errorf("refresh: %v", err)
	}
	if n := cs.Downloads.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if n := logs.FilterMessageSnippet("RESOURCE_NOT_EXISTS").Len(); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
	literal := func(e observer.LoggedEntry) bool { return !strings.Contains(e.Message, "written literally") }
	if n := logs.Filter(literal).FilterLevelExact(zap.WarnLevel).Len() + logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 0 {
		t.Errorf("%d warnings or errors for a normal state", n)
	}
	doc, _, err := certstore.Load(context.Background(), storage, c.MchID, certstore.MACKey([]byte(testkit.CertAPIv3Key)), time.Now())
	if err != nil || doc == nil || !doc.NotFound {
		t.Errorf("stored: %+v %v", doc, err)
	}
	// Without any configured key, a public-key-only answer leaves nothing.
	m2 := testMerchant(t, cs.TS.URL)
	if err := startMerchant(context.Background(), m2, "school", fileStorage(t), zap.NewNop()); err == nil {
		t.Error("a merchant with no key at all was accepted")
	}
}

func TestCertificatesSharedStorage(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	storage := fileStorage(t)
	apps := make([]*App, 2)
	var wg sync.WaitGroup
	errs := make([]error, len(apps))
	for i := range apps {
		apps[i] = &App{Merchants: map[string]*Merchant{"school": testMerchant(t, cs.TS.URL)}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each instance has its own storage value on the same directory.
			errs[i] = startApp(context.Background(), apps[i], &certmagic.FileStorage{Path: storage.Path}, zap.NewNop())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := cs.Downloads.Load(); n != 1 {
		t.Errorf("%d instances downloaded, want 1", n)
	}
	for i, a := range apps {
		if got := a.Merchants["school"].platformCertificates(); len(got) != 1 {
			t.Errorf("instance %d has %d certificates", i, len(got))
		}
	}
}

func TestCertificatesRestartOffline(t *testing.T) {
	c := testkit.Creds()
	_, storage, first := downloadedOnce(t)
	offline := "http://" + closedAddr(t)
	for _, age := range []time.Duration{0, 7 * time.Hour} { // fresh, then stale
		t.Run(age.String(), func(t *testing.T) {
			if age > 0 {
				certs := first.Merchants["school"].platformCertificates()
				if err := certstore.Save(context.Background(), storage, c.MchID, certstore.MACKey([]byte(testkit.CertAPIv3Key)), time.Now().Add(-age), false, certs); err != nil {
					t.Fatal(err)
				}
			}
			core, logs := observer.New(zap.InfoLevel)
			again := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, offline)}}
			if err := startApp(context.Background(), again, storage, zap.New(core)); err != nil {
				t.Fatalf("restart without network: %v", err)
			}
			if k := again.Merchants["school"].currentKeys(); k.serial != c.PlatformSerial {
				t.Errorf("after restart: encrypting with %q", k.serial)
			}
			warned := logs.FilterMessageSnippet("failed").Len()
			if (age > 0) != (warned == 1) {
				t.Errorf("stored set %s old: %d warnings", age, warned)
			}
		})
	}
	// No storage and no network: nothing to work with.
	lost := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, offline)}}
	if err := startApp(context.Background(), lost, fileStorage(t), zap.NewNop()); err == nil {
		t.Error("no key, no storage, no network: accepted")
	}
}

func TestCertificatesWorker(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	m := testMerchant(t, cs.TS.URL)
	m.RefreshInterval = 0
	app := &App{Merchants: map[string]*Merchant{"school": m}}
	if err := app.provision(fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	m.certs.interval = 50 * time.Millisecond // Start downloads once, then the worker
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cs.Downloads.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	n := cs.Downloads.Load()
	if n < 3 {
		t.Errorf("%d downloads in 5s with a 50ms interval", n)
	}
	time.Sleep(120 * time.Millisecond)
	if cs.Downloads.Load() != n {
		t.Error("downloads went on after Stop")
	}
}

func TestRefreshBackoff(t *testing.T) {
	for failures, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 30: defaultRefreshInterval} {
		got := retryDelay(failures, defaultRefreshInterval)
		if got != want {
			t.Errorf("after %d failures: %v, want %v", failures, got, want)
		}
		if j := jitter(got); j > got || j < got-got/10 {
			t.Errorf("jitter(%v) = %v", got, j)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(testkit.FreePort())
}

// TestMerchantRotationReachesItsHandler: a handler that names a merchant
// reads the merchant's keys at each request, so a platform certificate
// rotation (a refresh) reaches it without a configuration reload: the next
// request is encrypted for the new certificate and its response, signed
// by it, verifies. The sandbox plays WeChat Pay.
func TestMerchantRotationReachesItsHandler(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	app := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, cs.TS.URL)}}
	if err := startApp(context.Background(), app, fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	m, err := app.merchant("school")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := provisionedHandler(t, "")
	h.keySource = keySource{keys: m.currentKeys} // as useMerchant binds it
	presign := func(wantSerial string) {
		t.Helper()
		var sentSerial string
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			sentSerial = r.Header.Get("Wechatpay-Serial")
			cs.Srv.ServeHTTP(w, r)
			return nil
		})
		w := runHandler(t, h, httptest.NewRequest("POST", sandbox.PresignPath, strings.NewReader(testkit.PresignBody)), next)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "presign_token") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if sentSerial != wantSerial || w.Header().Get("Wechatpay-Serial") != wantSerial {
			t.Errorf("encrypted for %s, response signed by %s; want %s", sentSerial, w.Header().Get("Wechatpay-Serial"), wantSerial)
		}
	}
	presign(c.PlatformSerial)
	next, err := cs.Srv.RotatePlatformCertificate(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.certs.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	presign(pemkey.CertificateSerial(next))
}

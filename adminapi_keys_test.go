package wechatpay

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestKeyReloadKeepsDownloadedCertificates reloads the merchant key of a
// merchant whose platform certificates are downloaded: the downloaded
// certificates stay in use, the next download is signed with the new key,
// and a failed reload leaves everything as it was.
func TestKeyReloadKeepsDownloadedCertificates(t *testing.T) {
	old, fresh := testkit.Creds(), testkit.Rotated()
	var mu sync.Mutex
	var downloadSerials []string
	cs := testkit.NewCertSandbox(t, func(cfg *sandbox.Config) {
		observe := cfg.Observer
		cfg.Observer = func(x sandbox.Exchange) {
			observe(x)
			if m := testkit.AuthorizationRE.FindStringSubmatch(x.Header.Get("Authorization")); m != nil && strings.HasPrefix(x.RequestURI, sandbox.CertificatesPath) {
				mu.Lock()
				downloadSerials = append(downloadSerials, m[5])
				mu.Unlock()
			}
		}
	})
	dir := t.TempDir()
	testkit.WriteFile(t, dir, "serial_no", old.SerialNo)
	testkit.WriteFile(t, dir, "key.pem", testkit.PKCS8(old.MerchantKey))
	m := testMerchant(t, cs.TS.URL)
	m.SerialNo = "{file." + filepath.Join(dir, "serial_no") + "}"
	m.PrivateKey = filepath.Join(dir, "key.pem")
	if err := startMerchant(context.Background(), m, "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	before := m.currentKeys()
	if before.serial != old.PlatformSerial || before.signer.SerialNo != old.SerialNo {
		t.Fatalf("before: encrypting with %q, signing as %q", before.serial, before.signer.SerialNo)
	}

	// A broken key file: nothing changes.
	testkit.WriteFile(t, dir, "key.pem", "-----BEGIN PRIVATE KEY-----\nMIIE\n")
	if _, err := m.prepareReload(); err == nil || !strings.Contains(err.Error(), "private_key") {
		t.Fatalf("a broken key: %v", err)
	}
	if m.currentKeys() != before {
		t.Fatal("a failed reload changed the keys")
	}

	testkit.WriteFile(t, dir, "serial_no", fresh.SerialNo)
	testkit.WriteFile(t, dir, "key.pem", testkit.PKCS8(fresh.MerchantKey))
	commit, err := m.prepareReload()
	if err != nil {
		t.Fatal(err)
	}
	if m.currentKeys() != before {
		t.Fatal("prepareReload changed the keys before commit")
	}
	commit()
	after := m.currentKeys()
	if after.signer.SerialNo != fresh.SerialNo || !after.signer.Key.Public().Equal(&fresh.MerchantKey.PublicKey) {
		t.Errorf("after: signing as %s", after.signer.SerialNo)
	}
	if plain, err := after.decrypter.DecryptValue([]byte(testkit.SealForMerchantKey(t, fresh.MerchantKey, "x"))); err != nil || string(plain) != "x" {
		t.Errorf("after: answers are not decrypted with the new merchant key (%v)", err)
	}
	if after.serial != old.PlatformSerial || after.byID[old.PlatformSerial] == nil {
		t.Errorf("after: the downloaded certificate is gone (encrypting with %q)", after.serial)
	}
	if m.currentSigner() != after.signer {
		t.Error("Signer() does not follow the reload")
	}

	// The next download is signed with the new key (the sandbox knows only
	// the old merchant certificate, so it refuses it: the certificates in
	// use stay).
	_, _ = m.certs.refresh(context.Background(), true)
	mu.Lock()
	last := downloadSerials[len(downloadSerials)-1]
	mu.Unlock()
	if last != fresh.SerialNo {
		t.Errorf("the download after the reload was signed as %s, want %s", last, fresh.SerialNo)
	}
	if k := m.currentKeys(); k.serial != old.PlatformSerial || k.signer.SerialNo != fresh.SerialNo {
		t.Errorf("after a refused download: encrypting with %q, signing as %q", k.serial, k.signer.SerialNo)
	}

	// The merchant number cannot change by a key reload.
	m.MchID = "1900009999"
	if _, err := m.prepareReload(); err == nil || !strings.Contains(err.Error(), "mchid") {
		t.Errorf("a changed mchid: %v", err)
	}
}

// TestKeyReloadDuringProvision reloads keys without pause while handlers
// and an app are provisioned, as when a configuration loads while someone
// POSTs /wechatpay/keys/reload. Under -race it shows that a holder is
// registered only once fully set up, and that looking up a merchant does
// not race with a reload's commit.
func TestKeyReloadDuringProvision(t *testing.T) {
	c := testkit.Creds()
	dir := t.TempDir()
	handlerJSON := `{"mchid":"` + c.MchID + `","serial_no":"` + c.SerialNo +
		`","private_key":"` + testkit.WriteFile(t, dir, "k.pem", testkit.PKCS8(c.MerchantKey)) +
		`","public_key_id":"` + c.PublicKeyID +
		`","public_key":"` + testkit.WriteFile(t, dir, "p.pem", testkit.PublicPEM(&c.WechatPayKey.PublicKey)) + `"}`
	off := false
	m := withPublicKey(t, testMerchant(t, "http://127.0.0.1:1"))
	m.DownloadCertificates = &off
	app := &App{Merchants: map[string]*Merchant{"school": m}}
	if err := startApp(context.Background(), app, fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	isolateKeyHolders(t)
	registerKeyHolder(context.Background(), m) // as App.Provision does
	defer unregisterKeyHolder(m)

	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := reloadAllKeys(); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 30 {
		h := new(Handler)
		if err := json.Unmarshal([]byte(handlerJSON), h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := app.merchant("school"); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("a reload failed: %v", err)
	}
}

// isolateKeyHolders hides, for the rest of the test, the key holders of
// configurations an earlier test left running (whose key files may be
// gone), so that reloads see only this test's holders.
func isolateKeyHolders(t *testing.T) {
	keyHolders.Lock()
	saved := keyHolders.set
	keyHolders.set = map[keyHolder]context.Context{}
	keyHolders.Unlock()
	t.Cleanup(func() {
		keyHolders.Lock()
		keyHolders.set = saved
		keyHolders.Unlock()
	})
}

// TestKeyHolderLeavesWhenItsConfigurationStops checks that a holder of a
// stopped configuration is out of the list as soon as its context is
// cancelled: Caddy cancels the old configuration before a load returns, and
// the next GET /wechatpay/keys or reload must not see it, however late the
// goroutine that removes it runs.
func TestKeyHolderLeavesWhenItsConfigurationStops(t *testing.T) {
	isolateKeyHolders(t)
	for i := range 200 {
		oldCtx, stopOld := context.WithCancel(context.Background())
		newCtx, stopNew := context.WithCancel(context.Background())
		oldHolder := withPublicKey(t, testMerchant(t, "http://127.0.0.1:1"))
		newHolder := withPublicKey(t, testMerchant(t, "http://127.0.0.1:1"))
		oldHolder.name, newHolder.name = "old", "new"
		registerKeyHolder(oldCtx, oldHolder)
		registerKeyHolder(newCtx, newHolder)
		stopOld()
		list := registeredKeyHolders()
		if len(list) != 1 || list[0] != keyHolder(newHolder) {
			names := make([]string, len(list))
			for j, h := range list {
				names[j] = h.holderName()
			}
			t.Fatalf("round %d: right after the old configuration stopped, the holders are %v; want [merchant new]", i, names)
		}
		stopNew()
	}
}

// TestHandlerKeyReloadRefusesAnotherMchID: a handler with keys of its own
// refuses a key reload that changes its merchant number, as a merchant of
// the app does, and keeps its keys.
func TestHandlerKeyReloadRefusesAnotherMchID(t *testing.T) {
	c := testkit.Creds()
	dir := t.TempDir()
	mchid := testkit.WriteFile(t, dir, "mchid", c.MchID)
	h, _ := provisionedHandler(t, `,"mchid":"{file.`+mchid+`}"`)
	before := h.currentKeys()
	testkit.WriteFile(t, dir, "mchid", "1900000002")
	if _, err := h.prepareReload(); err == nil || !strings.Contains(err.Error(), "mchid changed") {
		t.Fatalf("reload with another mchid: %v", err)
	}
	if h.currentKeys() != before {
		t.Error("a refused reload changed the keys")
	}
	testkit.WriteFile(t, dir, "mchid", c.MchID)
	commit, err := h.prepareReload()
	if err != nil {
		t.Fatalf("reload with the same mchid: %v", err)
	}
	commit()
}

package wechatpay

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestKeyReloadKeepsDownloadedCertificates reloads the merchant key of a
// merchant whose platform certificates are downloaded: the downloaded
// certificates stay in use, the next download is signed with the new key,
// and a failed reload leaves everything as it was.
func TestKeyReloadKeepsDownloadedCertificates(t *testing.T) {
	old, fresh := testCredentials(t), rotatedCredentials(t)
	var mu sync.Mutex
	var downloadSerials []string
	cs := newCertSandbox(t, func(cfg *sandbox.Config) {
		observe := cfg.Observer
		cfg.Observer = func(x sandbox.Exchange) {
			observe(x)
			if m := authRE.FindStringSubmatch(x.Header.Get("Authorization")); m != nil && strings.HasPrefix(x.RequestURI, sandbox.CertificatesPath) {
				mu.Lock()
				downloadSerials = append(downloadSerials, m[5])
				mu.Unlock()
			}
		}
	})
	dir := t.TempDir()
	writeFile(t, dir, "serial_no", old.serialNo)
	writeFile(t, dir, "key.pem", pemPKCS8(t, old.merchantKey))
	m := testMerchant(t, cs.ts.URL)
	m.SerialNo = "{file." + filepath.Join(dir, "serial_no") + "}"
	m.PrivateKey = filepath.Join(dir, "key.pem")
	if err := m.provision(context.Background(), "school", fileStorage(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	before := m.currentKeys()
	if before.serial != old.platformSerial || before.signer.SerialNo != old.serialNo {
		t.Fatalf("before: encrypting with %q, signing as %q", before.serial, before.signer.SerialNo)
	}

	// A broken key file: nothing changes.
	writeFile(t, dir, "key.pem", "-----BEGIN PRIVATE KEY-----\nMIIE\n")
	if _, err := m.prepareReload(); err == nil || !strings.Contains(err.Error(), "private_key") {
		t.Fatalf("a broken key: %v", err)
	}
	if m.currentKeys() != before {
		t.Fatal("a failed reload changed the keys")
	}

	writeFile(t, dir, "serial_no", fresh.serialNo)
	writeFile(t, dir, "key.pem", pemPKCS8(t, fresh.merchantKey))
	commit, err := m.prepareReload()
	if err != nil {
		t.Fatal(err)
	}
	if m.currentKeys() != before {
		t.Fatal("prepareReload changed the keys before commit")
	}
	commit()
	after := m.currentKeys()
	if after.signer.SerialNo != fresh.serialNo || !after.signer.Key.Equal(fresh.merchantKey) || after.decrypter.Key != after.signer.Key {
		t.Errorf("after: signing as %s", after.signer.SerialNo)
	}
	if after.serial != old.platformSerial || after.byID[old.platformSerial] == nil {
		t.Errorf("after: the downloaded certificate is gone (encrypting with %q)", after.serial)
	}
	if m.Signer() != after.signer {
		t.Error("Signer() does not follow the reload")
	}

	// The next download is signed with the new key (the sandbox knows only
	// the old merchant certificate, so it refuses it: the certificates in
	// use stay).
	_, _ = m.certs.refresh(context.Background(), true)
	mu.Lock()
	last := downloadSerials[len(downloadSerials)-1]
	mu.Unlock()
	if last != fresh.serialNo {
		t.Errorf("the download after the reload was signed as %s, want %s", last, fresh.serialNo)
	}
	if k := m.currentKeys(); k.serial != old.platformSerial || k.signer.SerialNo != fresh.serialNo {
		t.Errorf("after a refused download: encrypting with %q, signing as %q", k.serial, k.signer.SerialNo)
	}

	// The merchant number cannot change by a key reload.
	m.MchID = "1900009999"
	if _, err := m.prepareReload(); err == nil || !strings.Contains(err.Error(), "mchid") {
		t.Errorf("a changed mchid: %v", err)
	}
}

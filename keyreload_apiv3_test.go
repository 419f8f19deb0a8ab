package wechatpay

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestKeyReloadAdoptsStoredCertificates: a key reload takes the platform
// certificates another instance (or `caddy wechatpay certificates`) stored
// since, at once rather than at the next refresh; and after an APIv3 key
// rotation the stored set, written under the old key, is written again
// under the new one.
func TestKeyReloadAdoptsStoredCertificates(t *testing.T) {
	cs := testkit.NewCertSandbox(t, nil)
	storage := fileStorage(t)
	m := testMerchant(t, cs.TS.URL)
	if err := startMerchant(context.Background(), m, "school", storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	next, err := cs.Srv.RotatePlatformCertificate(0)
	if err != nil {
		t.Fatal(err)
	}
	nextSerial := pemkey.CertificateSerial(next)

	// The CLI downloads into the same storage.
	cli := testMerchant(t, cs.TS.URL)
	if err := cli.provision("school", storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.certs.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if k := m.currentKeys(); k.byID[nextSerial] != nil {
		t.Fatal("the running merchant knew the new certificate before the reload")
	}
	commit, err := m.prepareReload()
	if err != nil {
		t.Fatal(err)
	}
	commit()
	if k := m.currentKeys(); k.byID[nextSerial] == nil || k.serial != nextSerial {
		t.Errorf("after the reload: encrypting with %q, trusting %v; want the stored certificate %s", k.serial, reportKeys("", k).WechatPayKeys, nextSerial)
	}

	// The APIv3 key rotates.
	const newKey = "Nw3Rk8Pz1Lq6Ty0Ux5Mv9Cb2Hg7Dj4Fs"
	m.APIv3Key = newKey
	before := m.currentKeys()
	commit, err = m.prepareReload()
	if err != nil {
		t.Fatal(err)
	}
	if m.currentKeys() != before {
		t.Fatal("prepareReload changed the keys before commit")
	}
	commit()
	k := m.currentKeys()
	if string(k.apiv3Key) != newKey || k.aead == nil || sameKeys(before, k) {
		t.Error("the new APIv3 key is not in use, or the reload did not count it as a change")
	}
	if k.byID[nextSerial] == nil {
		t.Error("the certificates in use were lost with the APIv3 key rotation")
	}
	doc, stored, err := certstore.Load(context.Background(), storage, m.MchID, certstore.MACKey([]byte(newKey)), time.Now())
	if err != nil || doc == nil || len(stored) != 2 {
		t.Errorf("the stored set under the new APIv3 key: %v, %d certificates", err, len(stored))
	}
	if string(m.certs.storageKey()) != string(certstore.MACKey([]byte(newKey))) {
		t.Error("the refresh would still store under the old APIv3 key")
	}

	// Removing the APIv3 key needs a configuration reload.
	m.APIv3Key = ""
	if _, err := m.prepareReload(); err == nil {
		t.Error("a reload removed the APIv3 key of a merchant that downloads certificates")
	}
}

package wechatpay

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/certstore"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"go.uber.org/zap"
)

// A certificate planted in storage by someone without the APIv3 key is never
// trusted: not for verifying, not for encrypting, and not written back.
func TestPlantedStoredCertificateIgnored(t *testing.T) {
	c := testkit.Creds()
	cs, storage, first := downloadedOnce(t)
	// Attacker: any self-made RSA-2048 certificate, valid from now to 9999.
	evilKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x0BADC0DE), Subject: pkix.Name{CommonName: "evil"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &evilKey.PublicKey, evilKey)
	evil, err := platformcert.Parse([]byte(testkit.CertPEM(mustParse(der))))
	if err != nil {
		t.Fatal(err)
	}
	certs := append(first.Merchants["school"].platformCertificates(), evil)
	// Whoever can write to the storage but does not hold the APIv3 key
	// cannot make a valid MAC.
	if err := certstore.Save(context.Background(), storage, c.MchID, certstore.MACKey([]byte("not-the-merchants-apiv3-key-0000")), time.Now().Add(-7*time.Hour), false, certs); err != nil {
		t.Fatal(err)
	}
	// Restart with WeChat Pay reachable (the stored set is stale: a real download happens).
	again := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, cs.TS.URL)}}
	if err := startApp(context.Background(), again, storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	m := again.Merchants["school"]
	if _, err := m.certs.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	k := m.currentKeys()
	// A forged response signed by the attacker key.
	body := []byte(`{"trade_state":"SUCCESS"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := "abcdefghijklmnopqrstuvwxyz123456"
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, evilKey, crypto.SHA256, sum[:])
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Serial", evil.Serial)
	if err := m.currentKeys().verifier.Verify(h, body); err == nil {
		t.Errorf("a forged answer signed by a certificate planted in storage verifies")
	}
	if k.serial == evil.Serial {
		t.Errorf("sensitive fields are encrypted for the planted certificate")
	}
	raw, _ := storage.Load(context.Background(), certstore.Key(c.MchID))
	var doc certstore.Document
	_ = json.Unmarshal(raw, &doc)
	for _, sc := range doc.Certificates {
		if sc.SerialNo == evil.Serial {
			t.Errorf("the planted certificate was written back to storage")
		}
	}
}

func mustParse(der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// A download that fails at start is retried after firstRetry, not after a
// whole refresh interval.
func TestStartupFailureRetriedSoon(t *testing.T) {
	c := testkit.Creds()
	_, storage, first := downloadedOnce(t)
	certs := first.Merchants["school"].platformCertificates()
	if err := certstore.Save(context.Background(), storage, c.MchID, certstore.MACKey([]byte(testkit.CertAPIv3Key)), time.Now().Add(-7*time.Hour), false, certs); err != nil {
		t.Fatal(err)
	}
	offline := "http://" + closedAddr(t)
	app := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, offline)}}
	if err := app.provision(storage, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	m := app.Merchants["school"]
	var attempts atomic.Int32
	m.certs.download = func(ctx context.Context, known []*platformcert.Certificate) ([]*platformcert.Certificate, error) {
		attempts.Add(1)
		return nil, errors.New("still offline")
	}
	synctest.Test(t, func(t *testing.T) {
		if err := app.Start(); err != nil {
			t.Fatal(err) // start succeeds with a warning: the stored set is used
		}
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		n := attempts.Load()
		_ = app.Stop()
		// certmagic's file storage keeps a lock file fresh from a
		// goroutine that notices an unlock only after its next 5 s
		// sleep: let it see that before the bubble ends.
		time.Sleep(time.Minute)
		synctest.Wait()
		// The attempt at Start, then retries after 1, 2, 4, 8 minutes: 4
		// in the first 30 minutes (jitter shortens each wait by at most a
		// tenth).
		if retries := n - 1; retries < 4 || retries > 5 {
			t.Errorf("%d retries in the first 30 minutes after a failed start, want 4 (1, 2, 4, 8 min)", retries)
		}
	})
}

// A recent stored document holding no usable certificate is not taken as
// is: WeChat Pay is asked, and the merchant starts with its certificate.
func TestRecentEmptyStoredSetAsksAgain(t *testing.T) {
	c := testkit.Creds()
	cs := testkit.NewCertSandbox(t, nil)
	storage := fileStorage(t)
	if err := certstore.Save(context.Background(), storage, c.MchID, certstore.MACKey([]byte(testkit.CertAPIv3Key)), time.Now(), false, nil); err != nil {
		t.Fatal(err)
	}
	app := &App{Merchants: map[string]*Merchant{"school": testMerchant(t, cs.TS.URL)}}
	err := startApp(context.Background(), app, storage, zap.NewNop())
	k := app.Merchants["school"].currentKeys()
	if err != nil || k.encrypter == nil || cs.Downloads.Load() != 1 {
		t.Errorf("provision err=%v, encrypting key %v, %d downloads; want a download and a key", err, k.encrypter != nil, cs.Downloads.Load())
	}
}

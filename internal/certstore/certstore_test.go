package certstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestSaveLoad: a saved set loads back, under the merchant's key; a missing
// document is no error; a document under another MAC key, of another
// merchant, or not JSON is refused; an expired certificate is left out.
func TestSaveLoad(t *testing.T) {
	c := testkit.Creds()
	cert, err := platformcert.Parse([]byte(testkit.CertPEM(c.PlatformCert)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := testkit.NewMemStorage()
	key := MACKey([]byte(testkit.CertAPIv3Key))
	now := time.Now()
	if doc, certs, err := Load(ctx, s, c.MchID, key, now); doc != nil || certs != nil || err != nil {
		t.Fatalf("nothing stored: %v %v %v", doc, certs, err)
	}
	checked := now.Add(-time.Hour).Truncate(time.Second)
	if err := Save(ctx, s, c.MchID, key, checked, false, []*platformcert.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	doc, certs, err := Load(ctx, s, c.MchID, key, now)
	if err != nil || !doc.CheckedAt.Equal(checked) || doc.NotFound || len(certs) != 1 || certs[0].Serial != cert.Serial {
		t.Fatalf("loaded %+v %v %v", doc, certs, err)
	}
	if _, certs, err := Load(ctx, s, c.MchID, key, cert.NotAfter().Add(time.Second)); err != nil || len(certs) != 0 {
		t.Errorf("after expiry: %v %v", certs, err)
	}
	if _, _, err := Load(ctx, s, c.MchID, MACKey([]byte("another-apiv3-key-00000000000000")), now); err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("another MAC key: %v", err)
	}
	raw, _ := s.Load(ctx, Key(c.MchID))
	s.Put(Key("1900000002"), raw)
	if _, _, err := Load(ctx, s, "1900000002", key, now); err == nil || !strings.Contains(err.Error(), "belongs to merchant "+c.MchID) {
		t.Errorf("another merchant's document: %v", err)
	}
	s.Put(Key(c.MchID), []byte("not json"))
	if _, _, err := Load(ctx, s, c.MchID, key, now); err == nil {
		t.Error("a document that is not JSON loads")
	}
	if Key(c.MchID) != "wechatpay/"+c.MchID+"/platform_certificates.json" || LockName(c.MchID) != "wechatpay_"+c.MchID+"_platform_certificates" {
		t.Errorf("storage names %s, %s", Key(c.MchID), LockName(c.MchID))
	}
}

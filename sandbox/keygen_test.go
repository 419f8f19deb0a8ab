package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

func TestGeneratedFilesLoadWithSDK(t *testing.T) {
	c := creds
	key, err := utils.LoadPrivateKeyWithPath(filepath.Join(credsDir, MerchantKeyFile))
	if err != nil || !key.Equal(c.MerchantPrivateKey) {
		t.Fatalf("merchant key: %v", err)
	}
	cert, err := utils.LoadCertificateWithPath(filepath.Join(credsDir, MerchantCertFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := utils.GetCertificateSerialNumber(*cert); got != c.MerchantSerial {
		t.Errorf("SDK merchant serial %s, credentials say %s", got, c.MerchantSerial)
	}
	pub, err := utils.LoadPublicKeyWithPath(filepath.Join(credsDir, PublicKeyFile))
	if err != nil || !pub.Equal(c.PublicKey) {
		t.Fatalf("public key: %v", err)
	}
	plat, err := utils.LoadCertificateWithPath(filepath.Join(credsDir, PlatformCertFile(c.PlatformSerial)))
	if err != nil {
		t.Fatal(err)
	}
	if got := utils.GetCertificateSerialNumber(*plat); got != c.PlatformSerial {
		t.Errorf("SDK platform serial %s, credentials say %s", got, c.PlatformSerial)
	}
	if years := plat.NotAfter.Sub(plat.NotBefore).Hours() / 24 / 365; years < 4.9 {
		t.Errorf("platform certificate valid %.1f years", years)
	}
	for _, f := range []string{PublicKeyPrivateFile, PlatformPrivateFile} {
		if _, err := utils.LoadPrivateKeyWithPath(filepath.Join(credsDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	hex40 := regexp.MustCompile(`^[0-9A-F]{40}$`)
	if !hex40.MatchString(c.MerchantSerial) || !hex40.MatchString(c.PlatformSerial) {
		t.Errorf("serials %s %s", c.MerchantSerial, c.PlatformSerial)
	}
	if !regexp.MustCompile(`^PUB_KEY_ID_[0-9]{28}$`).MatchString(c.PublicKeyID) {
		t.Errorf("public key ID %s", c.PublicKeyID)
	}
}

func TestGeneratedFileModesAndNotices(t *testing.T) {
	for _, f := range []string{MerchantKeyFile, PublicKeyPrivateFile, PlatformPrivateFile} {
		st, err := os.Stat(filepath.Join(credsDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, st.Mode().Perm())
		}
	}
	pems, _ := filepath.Glob(filepath.Join(credsDir, "*.pem"))
	more, _ := filepath.Glob(filepath.Join(credsDir, SandboxOnlyDir, "*.pem"))
	pems = append(pems, more...)
	if len(pems) != 6 {
		t.Errorf("%d PEM files: %v", len(pems), pems)
	}
	for _, p := range pems {
		data, _ := os.ReadFile(p)
		i := strings.Index(string(data), ThrowawayNotice)
		if i < 0 || i > strings.Index(string(data), "-----BEGIN") {
			t.Errorf("%s lacks the notice above BEGIN", p)
		}
	}
	notice, err := os.ReadFile(filepath.Join(credsDir, NoticeFile))
	if err != nil || !strings.Contains(string(notice), "NOT FOR PRODUCTION") {
		t.Errorf("notice: %v", err)
	}
	doc, _ := os.ReadFile(filepath.Join(credsDir, CredentialsFile))
	for _, want := range []string{creds.MchID, creds.MerchantSerial, creds.PublicKeyID, creds.PlatformSerial, `"serial_no"`, MerchantKeyFile} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("credentials.json lacks %s", want)
		}
	}
}

func TestLoadCredentialsRoundTrip(t *testing.T) {
	c, err := LoadCredentials(credsDir)
	if err != nil {
		t.Fatal(err)
	}
	if c.MchID != creds.MchID || c.MerchantSerial != creds.MerchantSerial || c.PublicKeyID != creds.PublicKeyID ||
		c.PlatformSerial != creds.PlatformSerial || !c.MerchantPrivateKey.Equal(creds.MerchantPrivateKey) ||
		!c.PublicKeyPrivateKey.Equal(creds.PublicKeyPrivateKey) || !c.PlatformPrivateKey.Equal(creds.PlatformPrivateKey) {
		t.Errorf("loaded set differs")
	}
	if _, err := GenerateCredentials(credsDir, ""); !errors.Is(err, fs.ErrExist) {
		t.Errorf("overwrite: %v", err)
	}
	again, err := LoadOrGenerateCredentials(credsDir, "")
	if err != nil || again.PublicKeyID != creds.PublicKeyID {
		t.Errorf("LoadOrGenerate on an existing set: %v", err)
	}
	if _, err := LoadCredentials(t.TempDir()); err == nil {
		t.Error("loaded an empty directory")
	}
	if _, err := GenerateCredentials(t.TempDir(), "19x"); err == nil {
		t.Error("accepted a non-numeric mchid")
	}
}

func TestLoadCredentialsDetectsMismatch(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{CredentialsFile, MerchantKeyFile, MerchantCertFile, PublicKeyFile,
		PlatformCertFile(creds.PlatformSerial), PublicKeyPrivateFile, PlatformPrivateFile} {
		data, err := os.ReadFile(filepath.Join(credsDir, f))
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o700)
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadCredentials(dir); err != nil {
		t.Fatalf("copy does not load: %v", err)
	}
	// Swap the merchant key for the public key's private half.
	data, _ := os.ReadFile(filepath.Join(dir, PublicKeyPrivateFile))
	_ = os.WriteFile(filepath.Join(dir, MerchantKeyFile), data, 0o600)
	if _, err := LoadCredentials(dir); err == nil || !strings.Contains(err.Error(), "merchant") {
		t.Errorf("mismatched merchant key: %v", err)
	}
}

package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// DefaultMchID is the merchant number GenerateCredentials uses when given "".
const DefaultMchID = "1900000001"

// PublicKeyIDPrefix starts every WeChat Pay public key ID.
const PublicKeyIDPrefix = "PUB_KEY_ID_"

// certValidity is how long generated certificates are valid.
const certValidity = 5 * 365 * 24 * time.Hour

const noticeText = ThrowawayNotice + `

Every key and certificate in this directory was generated on this machine by
the caddy-wechatpay sandbox (a local stand-in for api.mch.weixin.qq.com).
WeChat Pay does not know them. They are throwaway test keys:

  - never use them with the real WeChat Pay API;
  - never copy real merchant keys into this directory;
  - delete the directory when you are done.

The files in ` + SandboxOnlyDir + `/ are private keys that only the simulator holds
(WeChat Pay never gives merchants these).
`

// GenerateCredentials writes a fresh throwaway credentials set into dir
// (created with mode 0700 if missing) for merchant mchid (DefaultMchID if
// empty) and returns it. It refuses, with an error wrapping fs.ErrExist,
// to overwrite a directory that already holds credentials.json.
//
// Files: apiclient_key.pem (PKCS#8, 0600), apiclient_cert.pem, pub_key.pem,
// wechatpay_<SERIAL>.pem, apiv3_key.txt and apiv2_key.txt (0600), sandbox-only/*.pem (0600),
// credentials.json and NOT-FOR-PRODUCTION.txt.
func GenerateCredentials(dir, mchid string) (*Credentials, error) {
	if mchid == "" {
		mchid = DefaultMchID
	}
	if !isDigits(mchid) {
		return nil, fmt.Errorf("sandbox keygen: mchid %q is not a number", mchid)
	}
	if _, err := os.Stat(filepath.Join(dir, CredentialsFile)); err == nil {
		return nil, fmt.Errorf("sandbox keygen: %s already holds %s: %w", dir, CredentialsFile, fs.ErrExist)
	}
	c, err := newCredentials(dir, mchid)
	if err != nil {
		return nil, fmt.Errorf("sandbox keygen: %w", err)
	}
	if err := c.write(); err != nil {
		return nil, fmt.Errorf("sandbox keygen: %w", err)
	}
	return c, nil
}

// LoadOrGenerateCredentials loads the set in dir, or generates one there
// when dir holds no credentials.json yet. A loaded set written before the
// sandbox made APIv3 keys gets one (see EnsureAPIv3Key).
func LoadOrGenerateCredentials(dir, mchid string) (*Credentials, error) {
	if _, err := os.Stat(filepath.Join(dir, CredentialsFile)); errors.Is(err, fs.ErrNotExist) {
		return GenerateCredentials(dir, mchid)
	}
	c, err := LoadCredentials(dir)
	if err != nil {
		return nil, err
	}
	if err := c.EnsureAPIv3Key(); err != nil {
		return nil, err
	}
	if err := c.EnsureAPIv2Key(); err != nil {
		return nil, err
	}
	return c, nil
}

// newAPIv3Key returns 32 random characters from [0-9A-Za-z], the form of
// the APIv3 keys merchants set in the merchant platform.
func newAPIv3Key() string { return randomNonce(APIv3KeySize) }

// newCredentials generates the keys and certificates in memory.
func newCredentials(dir, mchid string) (*Credentials, error) {
	keys, err := generateKeys(3)
	if err != nil {
		return nil, err
	}
	c := &Credentials{
		Dir: dir, MchID: mchid,
		MerchantPrivateKey:  keys[0],
		PublicKeyPrivateKey: keys[1],
		PublicKey:           &keys[1].PublicKey,
		PlatformPrivateKey:  keys[2],
		APIv3Key:            newAPIv3Key(),
		APIv2Key:            randomNonce(APIv2KeySize),
	}
	if c.PublicKeyID, err = newPublicKeyID(); err != nil {
		return nil, err
	}
	c.MerchantCertificate, err = selfSignedCert(keys[0], pkix.Name{
		CommonName:         mchid,
		Organization:       []string{"THROWAWAY SANDBOX - NOT FOR PRODUCTION"},
		OrganizationalUnit: []string{"caddy-wechatpay sandbox merchant"},
		Country:            []string{"CN"},
	})
	if err != nil {
		return nil, err
	}
	c.PlatformCertificate, err = selfSignedCert(keys[2], pkix.Name{
		CommonName:         "Tenpay.com sandbox platform certificate",
		Organization:       []string{"THROWAWAY SANDBOX - NOT FOR PRODUCTION"},
		OrganizationalUnit: []string{"caddy-wechatpay sandbox"},
		Country:            []string{"CN"},
	})
	if err != nil {
		return nil, err
	}
	c.MerchantSerial = CertificateSerial(c.MerchantCertificate)
	c.PlatformSerial = CertificateSerial(c.PlatformCertificate)
	c.Files = CredentialFiles{
		MerchantPrivateKey:  MerchantKeyFile,
		MerchantCertificate: MerchantCertFile,
		PublicKey:           PublicKeyFile,
		PlatformCertificate: PlatformCertFile(c.PlatformSerial),
		PublicKeyPrivateKey: PublicKeyPrivateFile,
		PlatformPrivateKey:  PlatformPrivateFile,
		APIv3Key:            APIv3KeyFile,
		APIv2Key:            APIv2KeyFile,
	}
	return c, nil
}

// generateKeys makes n RSA-2048 keys concurrently.
func generateKeys(n int) ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, n)
	errs := make([]error, n)
	done := make(chan struct{})
	for i := range n {
		go func() {
			keys[i], errs[i] = rsa.GenerateKey(rand.Reader, 2048)
			done <- struct{}{}
		}()
	}
	for range n {
		<-done
	}
	return keys, errors.Join(errs...)
}

// newSerial returns a random 160-bit certificate serial whose first byte is
// in 0x10..0x7F, so that it prints as exactly 40 hex digits both with
// fmt.Sprintf("%X", serial) and with "%X" of serial.Bytes() (the SDK's way).
func newSerial() (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] = 0x10 + b[0]%0x70
	return new(big.Int).SetBytes(b), nil
}

// newPublicKeyID returns PUB_KEY_ID_ followed by 28 digits starting "01".
func newPublicKeyID() (string, error) {
	return PublicKeyIDPrefix + "01" + randomDigits(26), nil
}

func selfSignedCert(key *rsa.PrivateKey, subject pkix.Name) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// write stores the set in c.Dir.
func (c *Credentials) write() error {
	if err := os.MkdirAll(filepath.Join(c.Dir, SandboxOnlyDir), 0o700); err != nil {
		return err
	}
	merchantKey, err := privateKeyPEM("merchant API private key (apiclient_key.pem), mchid "+c.MchID, c.MerchantPrivateKey)
	if err != nil {
		return err
	}
	pubKey, err := publicKeyPEM("WeChat Pay public key "+c.PublicKeyID, c.PublicKey)
	if err != nil {
		return err
	}
	pubPriv, err := privateKeyPEM("SANDBOX ONLY: private half of WeChat Pay public key "+c.PublicKeyID, c.PublicKeyPrivateKey)
	if err != nil {
		return err
	}
	platPriv, err := privateKeyPEM("SANDBOX ONLY: private key of platform certificate "+c.PlatformSerial, c.PlatformPrivateKey)
	if err != nil {
		return err
	}
	doc, err := json.MarshalIndent(credentialsDoc{
		Notice: ThrowawayNotice, MchID: c.MchID, SerialNo: c.MerchantSerial,
		PublicKeyID: c.PublicKeyID, PlatformSerial: c.PlatformSerial, Files: c.Files,
	}, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{NoticeFile, []byte(noticeText), 0o644},
		{c.Files.MerchantPrivateKey, merchantKey, 0o600},
		{c.Files.MerchantCertificate, encodePEM("merchant API certificate (apiclient_cert.pem), serial "+c.MerchantSerial, "CERTIFICATE", c.MerchantCertificate.Raw), 0o644},
		{c.Files.PublicKey, pubKey, 0o644},
		{c.Files.PlatformCertificate, encodePEM("WeChat Pay platform certificate, serial "+c.PlatformSerial, "CERTIFICATE", c.PlatformCertificate.Raw), 0o644},
		{c.Files.PublicKeyPrivateKey, pubPriv, 0o600},
		{c.Files.PlatformPrivateKey, platPriv, 0o600},
		{c.Files.APIv3Key, []byte(c.APIv3Key + "\n"), 0o600},
		{c.Files.APIv2Key, []byte(c.APIv2Key + "\n"), 0o600},
		{CredentialsFile, append(doc, '\n'), 0o644},
	}
	for _, f := range files {
		if err := writeFile(c.Path(f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFile creates path with data and exactly the given mode, whatever the
// umask. It never follows a symbolic link nor replaces an existing file, so
// a link planted in a shared directory cannot redirect a key.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode) // O_EXCL also refuses a symbolic link
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

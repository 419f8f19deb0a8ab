package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File names inside a credentials directory. The first four are named as
// WeChat Pay names them; the sandbox-only ones hold the private halves that
// WeChat Pay never hands to merchants.
const (
	// CredentialsFile describes the set (mchid, serials, key ID, file names).
	CredentialsFile = "credentials.json"
	// NoticeFile says in plain words that the keys are throwaway keys.
	NoticeFile = "NOT-FOR-PRODUCTION.txt"
	// MerchantKeyFile is the merchant API private key, PKCS#8, mode 0600.
	MerchantKeyFile = "apiclient_key.pem"
	// MerchantCertFile is the merchant API certificate.
	MerchantCertFile = "apiclient_cert.pem"
	// PublicKeyFile is the WeChat Pay public key (PKIX).
	PublicKeyFile = "pub_key.pem"
	// SandboxOnlyDir holds the simulator's private keys, mode 0700.
	SandboxOnlyDir = "sandbox-only"
	// PublicKeyPrivateFile is the private half of the WeChat Pay public key.
	PublicKeyPrivateFile = SandboxOnlyDir + "/wechatpay_public_key_private.pem"
	// PlatformPrivateFile is the private key of the platform certificate.
	PlatformPrivateFile = SandboxOnlyDir + "/wechatpay_platform_private.pem"
	// APIv3KeyFile is the APIv3 key, 32 characters, mode 0600: it encrypts
	// callbacks (and the certificate download). Sets written before it
	// existed lack it; LoadOrGenerateCredentials adds it.
	APIv3KeyFile = "apiv3_key.txt"
)

// APIv3KeySize is the length of an APIv3 key in bytes.
const APIv3KeySize = 32

// PlatformCertFile returns the file name of a platform certificate,
// wechatpay_<SERIAL>.pem.
func PlatformCertFile(serial string) string { return "wechatpay_" + serial + ".pem" }

// Credentials is a throwaway set of merchant and WeChat Pay keys, as written
// by GenerateCredentials and read by LoadCredentials.
type Credentials struct {
	// Dir is the directory the files live in.
	Dir string
	// MchID is the merchant number.
	MchID string
	// MerchantSerial is the merchant API certificate serial (serial_no),
	// 40 upper-case hex digits.
	MerchantSerial string
	// MerchantPrivateKey signs requests and decrypts answer fields.
	MerchantPrivateKey *rsa.PrivateKey
	// MerchantCertificate is the merchant API certificate.
	MerchantCertificate *x509.Certificate
	// PublicKeyID names the WeChat Pay public key, PUB_KEY_ID_ + 28 digits.
	PublicKeyID string
	// PublicKey is the WeChat Pay public key.
	PublicKey *rsa.PublicKey
	// PublicKeyPrivateKey is the WeChat Pay public key's private half
	// (sandbox only).
	PublicKeyPrivateKey *rsa.PrivateKey
	// PlatformSerial is the platform certificate serial.
	PlatformSerial string
	// PlatformCertificate is the WeChat Pay platform certificate.
	PlatformCertificate *x509.Certificate
	// PlatformPrivateKey is the platform certificate's private key
	// (sandbox only).
	PlatformPrivateKey *rsa.PrivateKey
	// APIv3Key is the merchant's APIv3 key, 32 characters; "" for a set
	// written before the sandbox made one.
	APIv3Key string
	// APIv2Key is the merchant's APIv2 key (API密钥), 32 characters; ""
	// for a set written before the sandbox made one.
	APIv2Key string
	// Files holds the file names, relative to Dir.
	Files CredentialFiles
}

// CredentialFiles names the files of a credentials set, relative to its
// directory.
type CredentialFiles struct {
	// MerchantPrivateKey is apiclient_key.pem.
	MerchantPrivateKey string `json:"merchant_private_key"`
	// MerchantCertificate is apiclient_cert.pem.
	MerchantCertificate string `json:"merchant_certificate"`
	// PublicKey is pub_key.pem.
	PublicKey string `json:"wechatpay_public_key"`
	// PlatformCertificate is wechatpay_<SERIAL>.pem.
	PlatformCertificate string `json:"platform_certificate"`
	// PublicKeyPrivateKey is the sandbox-only private half of pub_key.pem.
	PublicKeyPrivateKey string `json:"sandbox_only_wechatpay_public_key_private_key"`
	// PlatformPrivateKey is the sandbox-only platform private key.
	PlatformPrivateKey string `json:"sandbox_only_platform_private_key"`
	// APIv3Key is apiv3_key.txt, the APIv3 key; empty in older sets.
	APIv3Key string `json:"apiv3_key,omitempty"`
	// APIv2Key is apiv2_key.txt, the APIv2 key; empty in older sets.
	APIv2Key string `json:"apiv2_key,omitempty"`
}

// credentialsDoc is the JSON form of credentials.json.
type credentialsDoc struct {
	Notice         string          `json:"notice"`
	MchID          string          `json:"mchid"`
	SerialNo       string          `json:"serial_no"`
	PublicKeyID    string          `json:"public_key_id"`
	PlatformSerial string          `json:"platform_serial"`
	Files          CredentialFiles `json:"files"`
}

// Path returns the absolute-or-relative path of a file of the set, that is
// filepath.Join(c.Dir, name); name is one of c.Files' fields.
func (c *Credentials) Path(name string) string { return filepath.Join(c.Dir, filepath.FromSlash(name)) }

// ServerConfig returns a Config for New with every key of the set filled in
// and everything else at its default.
func (c *Credentials) ServerConfig() Config {
	return Config{
		MchID:               c.MchID,
		MerchantCertificate: c.MerchantCertificate,
		PublicKeyID:         c.PublicKeyID,
		PublicKeyPrivateKey: c.PublicKeyPrivateKey,
		PlatformCertificate: c.PlatformCertificate,
		PlatformPrivateKey:  c.PlatformPrivateKey,
		APIv3Key:            c.APIv3Key,
		APIv2Key:            c.APIv2Key,
	}
}

// LoadCredentials reads a set written by GenerateCredentials from dir and
// checks that its parts belong together (serials, key pairs).
func LoadCredentials(dir string) (*Credentials, error) {
	raw, err := os.ReadFile(filepath.Join(dir, CredentialsFile))
	if err != nil {
		return nil, fmt.Errorf("sandbox credentials: %w", err)
	}
	var doc credentialsDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("sandbox credentials: %s: %w", CredentialsFile, err)
	}
	c := &Credentials{
		Dir: dir, MchID: doc.MchID, MerchantSerial: doc.SerialNo,
		PublicKeyID: doc.PublicKeyID, PlatformSerial: doc.PlatformSerial, Files: doc.Files,
	}
	steps := []struct {
		name string
		load func(path string) error
	}{
		{doc.Files.MerchantPrivateKey, func(p string) (err error) { c.MerchantPrivateKey, err = ReadPrivateKey(p); return }},
		{doc.Files.MerchantCertificate, func(p string) (err error) { c.MerchantCertificate, err = ReadCertificate(p); return }},
		{doc.Files.PublicKey, func(p string) (err error) { c.PublicKey, err = ReadPublicKey(p); return }},
		{doc.Files.PublicKeyPrivateKey, func(p string) (err error) { c.PublicKeyPrivateKey, err = ReadPrivateKey(p); return }},
		{doc.Files.PlatformCertificate, func(p string) (err error) { c.PlatformCertificate, err = ReadCertificate(p); return }},
		{doc.Files.PlatformPrivateKey, func(p string) (err error) { c.PlatformPrivateKey, err = ReadPrivateKey(p); return }},
	}
	for _, s := range steps {
		if s.name == "" {
			return nil, fmt.Errorf("sandbox credentials: %s lists an empty file name", CredentialsFile)
		}
		if err := s.load(c.Path(s.name)); err != nil {
			return nil, fmt.Errorf("sandbox credentials: %w", err)
		}
	}
	if err := c.loadAPIv3Key(); err != nil {
		return nil, fmt.Errorf("sandbox credentials: %w", err)
	}
	if err := c.loadAPIv2Key(); err != nil {
		return nil, fmt.Errorf("sandbox credentials: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("sandbox credentials in %s: %w", dir, err)
	}
	return c, nil
}

// loadAPIv3Key reads the APIv3 key file when the set has one; a set
// written before the sandbox made APIv3 keys has none, and keeps
// APIv3Key "".
func (c *Credentials) loadAPIv3Key() error {
	return c.readKeyFile(&c.Files.APIv3Key, APIv3KeyFile, &c.APIv3Key, func(key string) error {
		if len(key) != APIv3KeySize {
			return fmt.Errorf("the APIv3 key must be %d bytes, got %d", APIv3KeySize, len(key))
		}
		return nil
	})
}

// EnsureAPIv3Key gives a set written before the sandbox made APIv3 keys
// a fresh one, in APIv3KeyFile (mode 0600); a set that has one is left
// alone.
func (c *Credentials) EnsureAPIv3Key() error {
	if c.APIv3Key != "" {
		return nil
	}
	key := newAPIv3Key()
	if err := writeFile(c.Path(APIv3KeyFile), []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	c.APIv3Key, c.Files.APIv3Key = key, APIv3KeyFile
	return nil
}

// check verifies that the parts of the set belong together.
func (c *Credentials) check() error {
	var errs []error
	if !isDigits(c.MchID) {
		errs = append(errs, fmt.Errorf("mchid %q is not a number", c.MchID))
	}
	if got := CertificateSerial(c.MerchantCertificate); got != c.MerchantSerial {
		errs = append(errs, fmt.Errorf("merchant certificate serial %s, credentials say %s", got, c.MerchantSerial))
	}
	if got := CertificateSerial(c.PlatformCertificate); got != c.PlatformSerial {
		errs = append(errs, fmt.Errorf("platform certificate serial %s, credentials say %s", got, c.PlatformSerial))
	}
	if !strings.HasPrefix(c.PublicKeyID, PublicKeyIDPrefix) {
		errs = append(errs, fmt.Errorf("public key ID %q lacks %s", c.PublicKeyID, PublicKeyIDPrefix))
	}
	if err := samePublicKey(certKey(c.MerchantCertificate), c.MerchantPrivateKey); err != nil {
		errs = append(errs, fmt.Errorf("merchant: %w", err))
	}
	if err := samePublicKey(c.PublicKey, c.PublicKeyPrivateKey); err != nil {
		errs = append(errs, fmt.Errorf("wechatpay public key: %w", err))
	}
	if err := samePublicKey(certKey(c.PlatformCertificate), c.PlatformPrivateKey); err != nil {
		errs = append(errs, fmt.Errorf("platform certificate: %w", err))
	}
	return errors.Join(errs...)
}

// certKey returns a certificate's RSA public key, or nil.
func certKey(c *x509.Certificate) *rsa.PublicKey {
	if c == nil {
		return nil
	}
	k, _ := c.PublicKey.(*rsa.PublicKey)
	return k
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ThrowawayNotice is written above the BEGIN line of every PEM file
// GenerateCredentials writes, and in NOT-FOR-PRODUCTION.txt.
const ThrowawayNotice = "THROWAWAY SANDBOX KEY - NOT FOR PRODUCTION"

// encodePEM renders one PEM block preceded by the throwaway notice and a
// description. Text before the BEGIN line is ignored by PEM parsers
// (Go's encoding/pem, OpenSSL, the official SDKs).
func encodePEM(description, blockType string, der []byte) []byte {
	head := "# " + ThrowawayNotice + "\n# " + description + "\n"
	return append([]byte(head), pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})...)
}

func privateKeyPEM(description string, key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return encodePEM(description, "PRIVATE KEY", der), nil
}

func publicKeyPEM(description string, key *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return encodePEM(description, "PUBLIC KEY", der), nil
}

// readPEM reads the first PEM block of the given type from a file.
func readPEM(path, blockType string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no %q PEM block", path, blockType)
		}
		if block.Type == blockType {
			return block.Bytes, nil
		}
	}
}

// ReadPrivateKey reads an RSA private key from a PEM file, PKCS#8
// (PEM type "PRIVATE KEY") or PKCS#1 (PEM type "RSA PRIVATE KEY").
func ReadPrivateKey(path string) (*rsa.PrivateKey, error) {
	if der, err := readPEM(path, "PRIVATE KEY"); err == nil {
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an RSA key", path)
		}
		return rk, nil
	}
	der, err := readPEM(path, "RSA PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	rk, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rk, nil
}

// ReadPublicKey reads an RSA public key from a PKIX PEM file
// ("BEGIN PUBLIC KEY"), such as pub_key.pem.
func ReadPublicKey(path string) (*rsa.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}

// ReadCertificate reads an X.509 certificate with an RSA key from a PEM file.
func ReadCertificate(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("%s: certificate key is not RSA", path)
	}
	return c, nil
}

// CertificateSerial returns a certificate's serial as WeChat Pay writes it:
// the serial's bytes in upper-case hexadecimal, two digits a byte, a
// leading zero kept ("0A1B...").
func CertificateSerial(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	return fmt.Sprintf("%X", c.SerialNumber.Bytes())
}

func samePublicKey(pub *rsa.PublicKey, priv *rsa.PrivateKey) error {
	if pub == nil || priv == nil || !pub.Equal(&priv.PublicKey) {
		return errors.New("public key does not match private key")
	}
	return nil
}

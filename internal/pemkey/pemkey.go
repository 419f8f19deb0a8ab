package pemkey

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// minRSABits is the smallest RSA key WeChat Pay issues or accepts.
const minRSABits = 2048

// readPEMSource returns the PEM text of a key option, which holds either the
// PEM text itself (as {env.X} or {file./path} placeholders give it) or the
// path of a PEM file. Errors never quote the value, since it may be a key.
func readPEMSource(value string) ([]byte, error) {
	if strings.TrimSpace(value) == "" {
		return nil, errors.New("is empty")
	}
	if strings.Contains(value, "-----BEGIN") {
		return []byte(value), nil
	}
	data, err := os.ReadFile(value)
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		if looksLikePath(value) {
			return nil, fmt.Errorf("reading file %s: %w", value, err)
		}
		return nil, fmt.Errorf("is neither PEM text nor a readable file path: %w", err)
	}
	return data, nil
}

// looksLikePath reports whether a value that is not PEM text can be named in
// an error as a file path: short, one line, and holding a character that
// base64 never does ('.', '_', '-', '~', space), so that a key pasted
// without its PEM armour is never echoed into a log.
func looksLikePath(value string) bool {
	return len(value) <= 256 && !strings.ContainsAny(value, "\r\n") && strings.ContainsAny(value, "._-~ ")
}

// readPEMBlock returns the first PEM block of a key option (PEM text or a
// file path), ignoring any text (such as a warning comment) before it.
func readPEMBlock(value string) (*pem.Block, error) {
	data, err := readPEMSource(value)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("holds no PEM block")
	}
	return block, nil
}

// LoadPrivateKey reads the merchant API private key: PKCS #8
// (PEM type "PRIVATE KEY", what WeChat Pay's tool writes) or PKCS #1
// (PEM type "RSA PRIVATE KEY"), given as PEM text or a file path.
func LoadPrivateKey(value string) (*rsa.PrivateKey, error) {
	block, err := readPEMBlock(value)
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("holds a %q PEM block; want PRIVATE KEY (PKCS #8) or RSA PRIVATE KEY (PKCS #1)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("is a %T, not an RSA key", key)
	}
	if err := checkRSASize(rsaKey.N.BitLen()); err != nil {
		return nil, err
	}
	rsaKey.Precompute()
	return rsaKey, nil
}

// LoadPublicKey reads the WeChat Pay public key (pub_key.pem, "BEGIN PUBLIC
// KEY"; PKCS #1 "BEGIN RSA PUBLIC KEY" is accepted too), as PEM text or a
// file path.
func LoadPublicKey(value string) (*rsa.PublicKey, error) {
	block, err := readPEMBlock(value)
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		return nil, errors.New("holds a certificate; give it as platform_certificate instead")
	default:
		return nil, fmt.Errorf("holds a %q PEM block; want PUBLIC KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("is a %T, not an RSA key", key)
	}
	if err := checkRSASize(rsaKey.N.BitLen()); err != nil {
		return nil, err
	}
	return rsaKey, nil
}

// LoadCertificate reads an X.509 certificate with an RSA key of at least
// 2048 bits, as PEM text or a file path: a WeChat Pay platform certificate,
// or the merchant API certificate (apiclient_cert.pem). It returns the
// certificate with its serial as WeChat Pay writes it: upper-case hex. It
// does not check the validity dates or who issued it; the caller does.
func LoadCertificate(value string) (*x509.Certificate, string, error) {
	data, err := readPEMSource(value)
	if err != nil {
		return nil, "", err
	}
	return ParseCertificate(data)
}

// ParseCertificate parses the first PEM block of data as an X.509
// certificate with an RSA key of at least 2048 bits, and returns it with its
// serial. Unlike LoadCertificate it never reads a file: the text is given
// (by WeChat Pay's certificate download, say).
func ParseCertificate(data []byte) (*x509.Certificate, string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("holds no PEM block")
	}
	if block.Type != "CERTIFICATE" {
		return nil, "", fmt.Errorf("holds a %q PEM block; want CERTIFICATE", block.Type)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("parsing certificate: %w", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, "", fmt.Errorf("certificate key is a %T, not RSA", cert.PublicKey)
	}
	if err := checkRSASize(key.N.BitLen()); err != nil {
		return nil, "", err
	}
	return cert, CertificateSerial(cert), nil
}

// CertificateSerial returns a certificate's serial the way WeChat Pay names
// it in Wechatpay-Serial and serial_no: the serial's bytes in upper-case
// hexadecimal, two digits a byte, so that a serial whose first byte is
// below 0x10 keeps its leading zero ("0A1B...", 40 digits for WeChat Pay's
// 20-byte serials), as the official SDKs write it. Written as a number
// ("A1B..."), it would match no Wechatpay-Serial header.
func CertificateSerial(cert *x509.Certificate) string {
	return fmt.Sprintf("%X", cert.SerialNumber.Bytes())
}

func checkRSASize(bits int) error {
	if bits < minRSABits {
		return fmt.Errorf("is a %d-bit RSA key; WeChat Pay uses at least %d bits", bits, minRSABits)
	}
	return nil
}

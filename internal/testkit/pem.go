package testkit

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	_ "embed" // for KATKeyPEM
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// KATKeyPEM is a THROWAWAY key, generated once for the known-answer tests;
// it is not a real key and must never be used as one. To recompute an
// expected signature with openssl:
//
//	printf '<message>' | openssl dgst -sha256 -sign internal/testkit/testdata/kat_key.pem | base64 -w0
//
//go:embed testdata/kat_key.pem
var KATKeyPEM string

// PEMBlock returns der in a PEM block of the given type.
func PEMBlock(blockType string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

// PKCS8 returns k (RSA, as WeChat Pay's tool writes it, or another kind) as
// a "PRIVATE KEY" PEM block.
func PKCS8(k crypto.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return PEMBlock("PRIVATE KEY", der)
}

// PKCS1 returns k as an "RSA PRIVATE KEY" PEM block, as older tools write it.
func PKCS1(k *rsa.PrivateKey) string {
	return PEMBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
}

// PublicPEM returns k as a "PUBLIC KEY" (PKIX) PEM block, as pub_key.pem
// holds it.
func PublicPEM(k crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return PEMBlock("PUBLIC KEY", der)
}

// CertPEM returns c as a "CERTIFICATE" PEM block.
func CertPEM(c *x509.Certificate) string {
	return PEMBlock("CERTIFICATE", c.Raw)
}

// WriteFile writes content into dir/name with mode 0600 and returns the path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

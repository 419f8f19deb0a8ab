package testkit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"
)

// CertSpec describes a test certificate for IssueCertificate.
type CertSpec struct {
	Public              crypto.PublicKey // the key certified
	SerialHex           string           // the serial, in hexadecimal
	CommonName          string
	NotBefore, NotAfter time.Time
	Issuer              *x509.Certificate // nil: self-signed
	IssuerKey           crypto.Signer     // the issuer's key (the certified key's, self-signed)
	CA                  bool              // may issue certificates
}

// IssueCertificate makes the certificate s describes, parsed back.
func IssueCertificate(s CertSpec) *x509.Certificate {
	serial, ok := new(big.Int).SetString(s.SerialHex, 16)
	if !ok {
		panic("testkit: serial " + s.SerialHex + " is not hexadecimal")
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.CommonName},
		NotBefore:    s.NotBefore,
		NotAfter:     s.NotAfter,
	}
	if s.CA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	}
	issuer := s.Issuer
	if issuer == nil {
		issuer = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, s.Public, s.IssuerKey)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert
}

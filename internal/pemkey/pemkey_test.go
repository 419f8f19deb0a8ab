package pemkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io/fs"
	"maps"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// The keys and certificates are made here with crypto/x509 and checked
// against the keys they were made from, and against the official SDK's
// loaders (wechatpay-go's utils) where those accept the same input.

// fixtures are the throwaway keys of these tests, made once per binary.
type fixtures struct {
	rsa      *rsa.PrivateKey // 2048 bits, as WeChat Pay issues
	short    *rsa.PrivateKey // 1024 bits: refused
	boundary *rsa.PrivateKey // 2047 bits: refused, one bit short
	ec       *ecdsa.PrivateKey
	ca       *x509.Certificate // issues the merchant API certificate
	caKey    *rsa.PrivateKey
}

var fixture = sync.OnceValue(func() *fixtures {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	f := &fixtures{rsa: testkit.Creds().MerchantKey, short: newRSA(1024), boundary: newRSA(2047), ec: ec, caKey: testkit.Creds().PlatformKey}
	f.ca = newCert(&f.caKey.PublicKey, "1A2B", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), nil, f.caKey)
	return f
})

func newRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// newCert makes a certificate for pub with the given hex serial and
// validity, issued by parent under signer; self-signed, and a CA, when
// parent is nil.
func newCert(pub crypto.PublicKey, serialHex string, notBefore, notAfter time.Time, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
	return testkit.IssueCertificate(testkit.CertSpec{Public: pub, SerialHex: serialHex, CommonName: "pemkey test " + serialHex,
		NotBefore: notBefore, NotAfter: notAfter, Issuer: parent, IssuerKey: signer, CA: parent == nil})
}

// unarmoured returns a PEM block's base64 body without its BEGIN and END
// lines, as a key pasted carelessly looks.
func unarmoured(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return strings.Join(lines[1:len(lines)-1], "\n")
}

// leak returns the first piece of key material (16 characters of a base64
// line of text) that msg quotes, or "".
func leak(msg, text string) string {
	for _, field := range strings.Fields(text) {
		if len(field) >= 16 && !strings.HasPrefix(field, "-----") && strings.Contains(msg, field[:16]) {
			return field[:16]
		}
	}
	return ""
}

// badInput is an error case: what is given, and what the error must say.
type badInput struct {
	src  source
	want errCase
}

// errCase is what an error case wants of the error: every one of has, and
// fs.ErrNotExist when notExist.
type errCase struct {
	has      []string
	notExist bool
}

// checkErr checks err against want, and that it quotes nothing of text,
// the key material given.
func checkErr(t *testing.T, err error, want errCase, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one holding %q", want.has)
	}
	for _, s := range want.has {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if want.notExist && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q is not fs.ErrNotExist", err)
	}
	if l := leak(err.Error(), text); l != "" {
		t.Errorf("error %q quotes key material %q", err, l)
	}
}

// checkBadInputs runs load on each case's input and checks its error.
func checkBadInputs(t *testing.T, cases map[string]badInput, load func(value string) error) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			value, text := c.src.value(t)
			checkErr(t, load(value), c.want, text)
		})
	}
}

// source is a case's input: PEM text given as is, or written to a file
// whose path is given instead.
type source struct {
	text   string
	inFile bool   // give the path of a file holding text
	path   string // give this path as is (a missing file, say)
}

// value returns what the case passes to the function, and the text (key
// material, maybe) it gives that way: as is or in the file it names.
func (s source) value(t *testing.T) (value, text string) {
	switch {
	case s.path != "":
		return s.path, ""
	case s.inFile:
		return testkit.WriteFile(t, t.TempDir(), "key_file.pem", s.text), s.text
	default:
		return s.text, s.text
	}
}

// inputErrors are the error cases every loader shares: nothing, something
// that is neither PEM text nor a file, and files that are not there or
// hold no PEM.
func inputErrors(t *testing.T, armour string) map[string]badInput {
	missing := filepath.Join(t.TempDir(), "no_such_dir", "apiclient_key.pem")
	return map[string]badInput{
		"empty":                 {source{}, errCase{has: []string{"is empty"}}},
		"blank":                 {source{text: " \n\t "}, errCase{has: []string{"is empty"}}},
		"missing file":          {source{path: missing}, errCase{has: []string{"reading file " + missing}, notExist: true}},
		"file without PEM":      {source{text: "not a key\n", inFile: true}, errCase{has: []string{"holds no PEM block"}}},
		"garbage text":          {source{text: "hello world\nthis is not a key"}, errCase{has: []string{"neither PEM text nor a readable file path"}}},
		"armour, no base64":     {source{text: "-----BEGIN " + armour + "-----\n!!not base64!!\n-----END " + armour + "-----\n"}, errCase{has: []string{"holds no PEM block"}}},
		"armour around garbage": {source{text: testkit.PEMBlock(armour, []byte("not DER at all"))}, errCase{has: []string{"parsing"}}},
	}
}

func TestLoadPrivateKey(t *testing.T) {
	f := fixture()
	key := f.rsa
	p8, p1 := testkit.PKCS8(key), testkit.PKCS1(key)
	ecSEC1, err := x509.MarshalECPrivateKey(f.ec)
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]source{
		"PKCS #8 text":              {text: p8},
		"PKCS #1 text":              {text: p1},
		"PKCS #8 file":              {text: p8, inFile: true},
		"PKCS #1 file":              {text: p1, inFile: true},
		"comment before the block":  {text: "# throwaway test key\n" + p8},
		"block followed by another": {text: p8 + testkit.PublicPEM(&key.PublicKey)},
	}
	for name, src := range ok {
		t.Run(name, func(t *testing.T) {
			got, err := LoadPrivateKey(valueOf(src.value(t)))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(key) {
				t.Error("loaded another key")
			}
		})
	}

	// The official SDK reads PKCS #8 text; both read the same key.
	sdk, err := utils.LoadPrivateKey(p8)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := LoadPrivateKey(p8); err != nil || !got.Equal(sdk) {
		t.Errorf("PKCS #8: %v, or not the key the SDK reads", err)
	}

	bad := inputErrors(t, "PRIVATE KEY")
	maps.Copy(bad, map[string]badInput{
		"EC key, PKCS #8":          {source{text: testkit.PKCS8(f.ec)}, errCase{has: []string{"not an RSA key"}}},
		"EC key, SEC 1":            {source{text: testkit.PEMBlock("EC PRIVATE KEY", ecSEC1)}, errCase{has: []string{`"EC PRIVATE KEY"`, "want PRIVATE KEY"}}},
		"EC key file":              {source{text: testkit.PKCS8(f.ec), inFile: true}, errCase{has: []string{"not an RSA key"}}},
		"1024-bit RSA":             {source{text: testkit.PKCS8(f.short)}, errCase{has: []string{"1024-bit", "2048"}}},
		"2047-bit RSA, PKCS #1":    {source{text: testkit.PKCS1(f.boundary)}, errCase{has: []string{"2047-bit"}}},
		"public key":               {source{text: testkit.PublicPEM(&key.PublicKey)}, errCase{has: []string{`"PUBLIC KEY"`}}},
		"certificate":              {source{text: testkit.CertPEM(f.ca)}, errCase{has: []string{`"CERTIFICATE"`}}},
		"PKCS #1 labelled PKCS #8": {source{text: testkit.PEMBlock("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))}, errCase{has: []string{"parsing PRIVATE KEY"}}},
		"PKCS #8 labelled PKCS #1": {source{text: strings.ReplaceAll(p8, "PRIVATE KEY", "RSA PRIVATE KEY")}, errCase{has: []string{"parsing RSA PRIVATE KEY"}}},
		"key without its armour":   {source{text: unarmoured(p8)}, errCase{has: []string{"neither PEM text nor a readable file path"}}},
		"key on one line":          {source{text: strings.ReplaceAll(unarmoured(p8), "\n", "")}, errCase{has: []string{"neither PEM text nor a readable file path"}}},
	})
	checkBadInputs(t, bad, func(v string) error { _, err := LoadPrivateKey(v); return err })
}

func TestLoadPublicKey(t *testing.T) {
	f := fixture()
	pub := &f.rsa.PublicKey
	text := testkit.PublicPEM(pub)
	for name, src := range map[string]source{
		"PKIX text":                {text: text},
		"PKIX file":                {text: text, inFile: true},
		"PKCS #1 text":             {text: testkit.PEMBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(pub))},
		"comment before the block": {text: "WeChat Pay public key\n" + text},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := LoadPublicKey(valueOf(src.value(t)))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(pub) {
				t.Error("loaded another key")
			}
		})
	}

	sdk, err := utils.LoadPublicKey(text)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := LoadPublicKey(text); err != nil || !got.Equal(sdk) {
		t.Errorf("PKIX: %v, or not the key the SDK reads", err)
	}

	bad := inputErrors(t, "PUBLIC KEY")
	maps.Copy(bad, map[string]badInput{
		"EC key":             {source{text: testkit.PublicPEM(&f.ec.PublicKey)}, errCase{has: []string{"not an RSA key"}}},
		"1024-bit RSA":       {source{text: testkit.PublicPEM(&f.short.PublicKey)}, errCase{has: []string{"1024-bit"}}},
		"2047-bit RSA":       {source{text: testkit.PublicPEM(&f.boundary.PublicKey)}, errCase{has: []string{"2047-bit"}}},
		"certificate":        {source{text: testkit.CertPEM(f.ca)}, errCase{has: []string{"holds a certificate", "platform_certificate"}}},
		"private key":        {source{text: testkit.PKCS8(f.rsa)}, errCase{has: []string{`"PRIVATE KEY"`, "want PUBLIC KEY"}}},
		"private key file":   {source{text: testkit.PKCS1(f.rsa), inFile: true}, errCase{has: []string{`"RSA PRIVATE KEY"`}}},
		"PKCS #1 as PKIX":    {source{text: testkit.PEMBlock("PUBLIC KEY", x509.MarshalPKCS1PublicKey(pub))}, errCase{has: []string{"parsing PUBLIC KEY"}}},
		"key without armour": {source{text: unarmoured(text)}, errCase{has: []string{"neither PEM text nor a readable file path"}}},
	})
	checkBadInputs(t, bad, func(v string) error { _, err := LoadPublicKey(v); return err })
}

func TestLoadCertificate(t *testing.T) {
	f := fixture()
	now := time.Now()
	platform := newCert(&f.rsa.PublicKey, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", now.Add(-time.Hour), now.Add(24*time.Hour), nil, f.rsa)
	// apiclient_cert.pem: issued by a CA, not self-signed.
	merchant := newCert(&f.rsa.PublicKey, "3775B6A45ACD588826D15E583A95F5DD12345678", now.Add(-time.Hour), now.Add(365*24*time.Hour), f.ca, f.caKey)
	expired := newCert(&f.rsa.PublicKey, "7E2A0C4B9D1F3A5C7E9B0D2F4A6C8E0B1D3F5A7C", now.Add(-48*time.Hour), now.Add(-24*time.Hour), nil, f.rsa)

	for name, c := range map[string]struct {
		src  source
		want *x509.Certificate
	}{
		"platform certificate text":     {source{text: testkit.CertPEM(platform)}, platform},
		"platform certificate file":     {source{text: testkit.CertPEM(platform), inFile: true}, platform},
		"merchant API certificate file": {source{text: testkit.CertPEM(merchant), inFile: true}, merchant},
		"chain: the first block":        {source{text: testkit.CertPEM(merchant) + testkit.CertPEM(f.ca)}, merchant},
		"comment before the block":      {source{text: "subject=CN = test\n" + testkit.CertPEM(merchant)}, merchant},
		// Expiry is the caller's to judge (a warning, a metric): the
		// certificate loads with its NotAfter.
		"expired": {source{text: testkit.CertPEM(expired)}, expired},
	} {
		t.Run(name, func(t *testing.T) {
			value, _ := c.src.value(t)
			got, serial, err := LoadCertificate(value)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(c.want) || !got.NotAfter.Equal(c.want.NotAfter) {
				t.Error("loaded another certificate")
			}
			// The SDK reads the same certificate and names it the same.
			sdk, err := utils.LoadCertificate(c.src.text)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(sdk) {
				t.Error("not the certificate the SDK reads")
			}
			if want := utils.GetCertificateSerialNumber(*sdk); serial != want {
				t.Errorf("serial %s, the SDK says %s", serial, want)
			}
		})
	}

	ecCert := newCert(&f.ec.PublicKey, "0BAD", now.Add(-time.Hour), now.Add(time.Hour), f.ca, f.caKey)
	shortCert := newCert(&f.short.PublicKey, "0BAD", now.Add(-time.Hour), now.Add(time.Hour), f.ca, f.caKey)
	bad := inputErrors(t, "CERTIFICATE")
	maps.Copy(bad, map[string]badInput{
		"EC certificate":       {source{text: testkit.CertPEM(ecCert)}, errCase{has: []string{"not RSA"}}},
		"1024-bit certificate": {source{text: testkit.CertPEM(shortCert), inFile: true}, errCase{has: []string{"1024-bit"}}},
		"public key":           {source{text: testkit.PublicPEM(&f.rsa.PublicKey)}, errCase{has: []string{`"PUBLIC KEY"`, "want CERTIFICATE"}}},
		"private key":          {source{text: testkit.PKCS8(f.rsa)}, errCase{has: []string{`"PRIVATE KEY"`}}},
		"private key file":     {source{text: testkit.PKCS8(f.rsa), inFile: true}, errCase{has: []string{`"PRIVATE KEY"`}}},
	})
	checkBadInputs(t, bad, func(v string) error { _, _, err := LoadCertificate(v); return err })
}

// TestParseCertificateReadsNoFile: ParseCertificate parses the text it is
// given, and a path is only text to it.
func TestParseCertificateReadsNoFile(t *testing.T) {
	cert := fixture().ca
	path := testkit.WriteFile(t, t.TempDir(), "cert.pem", testkit.CertPEM(cert))
	if _, _, err := ParseCertificate([]byte(path)); err == nil || !strings.Contains(err.Error(), "holds no PEM block") {
		t.Errorf("a path: %v, want holds no PEM block", err)
	}
	got, serial, err := ParseCertificate([]byte(testkit.CertPEM(cert)))
	if err != nil || !got.Equal(cert) || serial != "1A2B" {
		t.Errorf("the text: %v, serial %s", err, serial)
	}
}

// TestCertificateSerial: upper-case hex, the way WeChat Pay writes
// Wechatpay-Serial and the SDK names a certificate.
func TestCertificateSerial(t *testing.T) {
	for _, serial := range []string{
		"5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
		"3775b6a45acd588826d15e583a95f5dd12345678",
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", // DER adds a zero byte in front
		"1A2B",
		// A first byte below 0x10 keeps its zero: WeChat Pay's serials are
		// 20 bytes, 40 digits, and Wechatpay-Serial carries all of them.
		"0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
		"0ABC",
	} {
		n, _ := new(big.Int).SetString(serial, 16)
		cert := &x509.Certificate{SerialNumber: n}
		got := CertificateSerial(cert)
		if got != strings.ToUpper(serial) {
			t.Errorf("%s: got %s", serial, got)
		}
		if sdk := utils.GetCertificateSerialNumber(*cert); got != sdk {
			t.Errorf("%s: got %s, the SDK says %s", serial, got, sdk)
		}
	}
}

// valueOf returns the value of a source, dropping the file content.
func valueOf(value, _ string) string { return value }

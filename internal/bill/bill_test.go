package bill

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// sampleBill returns a trade bill of n detail lines in WeChat Pay's format.
func sampleBill(n int) []byte {
	var b strings.Builder
	b.WriteString("交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额\n")
	for i := range n {
		fmt.Fprintf(&b, "`2026-12-07 10:%02d:%02d,`wx8888888888888888,`1900000109,`42000000%010d,`order-%d,`SUCCESS,`%d.%02d\n",
			i/60%60, i%60, i, i, i%1000, i%100)
	}
	b.WriteString("总交易单数,应结订单总金额\n`" + fmt.Sprint(n) + ",`0.00\n")
	return []byte(b.String())
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func spoolOf(t testing.TB, dir string, memMax int, b []byte) *Spool {
	s := NewSpool(dir, memMax, 1<<40)
	t.Cleanup(func() { _ = s.Close() })
	for len(b) > 0 { // in pieces, as reverse_proxy writes
		n := min(len(b), 32<<10)
		if _, err := s.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	return s
}

func noKey([]byte) ([]byte, error) { return nil, errors.New("no key") }

func TestVerifyPlainAndGzip(t *testing.T) {
	bill := sampleBill(5000)
	packed := gz(t, bill)
	for _, tc := range []struct {
		name    string
		file    []byte
		hash    string
		covered string
	}{
		{"plain", bill, sha1Hex(bill), CoveredBill},
		{"gzip, digest of the bill (documented)", packed, sha1Hex(bill), CoveredBill},
		{"gzip, digest of the file as sent", packed, sha1Hex(packed), CoveredFile},
	} {
		for _, memMax := range []int{1 << 30, 4 << 10} { // in memory, and spilled to a file
			t.Run(fmt.Sprintf("%s/mem%d", tc.name, memMax), func(t *testing.T) {
				s := spoolOf(t, t.TempDir(), memMax, tc.file)
				res, err := Verify(&Record{HashType: "SHA1", HashValue: tc.hash}, s, noKey)
				if err != nil {
					t.Fatal(err)
				}
				if res.Covered != tc.covered || res.Plain != nil {
					t.Errorf("covered %q, plain %v; want %q, nil", res.Covered, res.Plain != nil, tc.covered)
				}
				if memMax < len(tc.file) != s.OnDisk() {
					t.Errorf("on disk %v with %d bytes and a %d-byte bound", s.OnDisk(), len(tc.file), memMax)
				}
			})
		}
	}
}

func TestVerifyRefusesChangedAndTruncated(t *testing.T) {
	bill := sampleBill(2000)
	packed := gz(t, bill)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	for _, tc := range []struct {
		name string
		file []byte
		hash string
	}{
		{"plain, one byte changed", flip(bill, len(bill)/2), sha1Hex(bill)},
		{"plain, truncated", bill[:len(bill)-1], sha1Hex(bill)},
		{"gzip, one byte changed", flip(packed, len(packed)/2), sha1Hex(bill)},
		{"gzip, truncated", packed[:len(packed)-10], sha1Hex(bill)},
		{"empty", nil, sha1Hex(bill)},
		{"digest of another bill", bill, sha1Hex(sampleBill(3))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spoolOf(t, t.TempDir(), 1024, tc.file)
			if _, err := Verify(&Record{HashType: "SHA1", HashValue: tc.hash}, s, noKey); !errors.Is(err, ErrMismatch) {
				t.Fatalf("err %v, want ErrMismatch", err)
			}
		})
	}
}

// sealBill encrypts a bill as WeChat Pay documents for sub-merchant fund
// flow bills, with Go's crypto (not this package): a random 32-byte key,
// RSA-OAEP (SHA1) under the merchant's public key, base64; AES-256-GCM with
// the nonce string's bytes, empty associated data, the tag appended.
func sealBill(t testing.TB, pub *rsa.PublicKey, nonce string, plain []byte) (ct []byte, encryptKey string, key []byte) {
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		t.Fatal(err)
	}
	ct = g.Seal(nil, []byte(nonce), plain, nil)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ct, base64.StdEncoding.EncodeToString(wrapped), key
}

var merchantKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func opener(k *rsa.PrivateKey) KeyOpener {
	return func(b64 []byte) ([]byte, error) {
		ct, err := base64.StdEncoding.DecodeString(string(b64))
		if err != nil {
			return nil, err
		}
		return rsa.DecryptOAEP(sha1.New(), nil, k, ct, nil)
	}
}

func TestVerifyEncrypted(t *testing.T) {
	bill := sampleBill(3000)
	packed := gz(t, bill)
	for _, tc := range []struct {
		name, nonce string
		plain       []byte
		hashOf      []byte
		covered     string
	}{
		{"gzip, 16-character nonce as documented", "a8607ef79034c49c", packed, bill, CoveredBill},
		{"plain, 12-character nonce", "0123456789ab", bill, bill, CoveredBill},
		{"gzip, digest of the decrypted file", "a8607ef79034c49c", packed, packed, CoveredDecrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, ek, _ := sealBill(t, &merchantKey.PublicKey, tc.nonce, tc.plain)
			rec := &Record{HashType: "SHA1", HashValue: sha1Hex(tc.hashOf), EncryptKey: ek, Nonce: tc.nonce}
			s := spoolOf(t, t.TempDir(), 1024, ct)
			res, err := Verify(rec, s, opener(merchantKey))
			if err != nil {
				t.Fatal(err)
			}
			if res.Covered != tc.covered || !bytes.Equal(res.Plain, tc.plain) {
				t.Errorf("covered %q, plain equal %v; want %q", res.Covered, bytes.Equal(res.Plain, tc.plain), tc.covered)
			}
		})
	}
}

// TestDecryptAgreesWithSDK opens a bill sealed with a 12-byte nonce with
// both Decrypt and the official Go SDK's AES-GCM helper (which takes the
// ciphertext in base64 and only GCM's standard 12-byte nonce).
func TestDecryptAgreesWithSDK(t *testing.T) {
	bill := sampleBill(500)
	nonce := "abcdefghijkl"
	ct, ek, key := sealBill(t, &merchantKey.PublicKey, nonce, bill)
	sdk, err := utils.DecryptAES256GCM(string(key), "", nonce, base64.StdEncoding.EncodeToString(ct))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decrypt(&Record{EncryptKey: ek, Nonce: nonce}, ct, opener(merchantKey))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(sdk)) || !bytes.Equal(got, bill) {
		t.Fatal("Decrypt and the SDK disagree")
	}
}

func TestVerifyEncryptedRefusals(t *testing.T) {
	bill := sampleBill(1000)
	nonce := "a8607ef79034c49c"
	ct, ek, _ := sealBill(t, &merchantKey.PublicKey, nonce, bill)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Clone(ct)
	changed[10] ^= 0x80
	for _, tc := range []struct {
		name  string
		ct    []byte
		rec   Record
		open  KeyOpener
		error error
	}{
		{"one byte changed", changed, Record{EncryptKey: ek, Nonce: nonce}, opener(merchantKey), ErrDecrypt},
		{"truncated", ct[:len(ct)-1], Record{EncryptKey: ek, Nonce: nonce}, opener(merchantKey), ErrDecrypt},
		{"another nonce", ct, Record{EncryptKey: ek, Nonce: "b8607ef79034c49c"}, opener(merchantKey), ErrDecrypt},
		{"key of another merchant", ct, Record{EncryptKey: ek, Nonce: nonce}, opener(other), ErrDecrypt},
		{"authentic but another digest", ct, Record{EncryptKey: ek, Nonce: nonce, HashValue: sha1Hex([]byte("x"))}, opener(merchantKey), ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec
			rec.HashType = "SHA1"
			if rec.HashValue == "" {
				rec.HashValue = sha1Hex(bill)
			}
			s := spoolOf(t, t.TempDir(), 1<<20, tc.ct)
			res, err := Verify(&rec, s, tc.open)
			if !errors.Is(err, tc.error) || res != nil {
				t.Fatalf("err %v, want %v", err, tc.error)
			}
		})
	}
}

func TestSpoolLimitAndCleanup(t *testing.T) {
	dir := t.TempDir()
	s := NewSpool(dir, 10, 100)
	if _, err := s.Write(make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	if !s.OnDisk() {
		t.Fatal("60 bytes over a 10-byte bound stayed in memory")
	}
	if _, err := s.Write(make([]byte, 41)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v past the limit, want ErrTooLarge", err)
	}
	if _, err := s.Write([]byte{1}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a write after the limit: err %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("a second Close:", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("files left after Close: %v", left)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

func TestSpoolReadTwice(t *testing.T) {
	data := sampleBill(100)
	s := spoolOf(t, t.TempDir(), 16, data)
	for range 2 {
		r, err := s.Reader()
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := got.ReadFrom(r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatal("the spool gave back other bytes")
		}
	}
	if b, err := s.Bytes(); err != nil || !bytes.Equal(b, data) {
		t.Fatal("Bytes gave back other bytes", err)
	}
}

// TestDigestAgreesWithVerify: the digests made while the file arrives are
// those of the second pass, for a plain file, a gzip one, a broken gzip
// one, and writes of one byte.
func TestDigestAgreesWithVerify(t *testing.T) {
	bill := sampleBill(3000)
	packed := gz(t, bill)
	for name, tc := range map[string]struct {
		file    []byte
		hash    string
		covered string
	}{
		"plain":                 {bill, sha1Hex(bill), CoveredBill},
		"gzip, the bill":        {packed, sha1Hex(bill), CoveredBill},
		"gzip, the file":        {packed, sha1Hex(packed), CoveredFile},
		"gzip, one byte off":    {append(bytes.Clone(packed[:100]), packed[101:]...), sha1Hex(bill), ""},
		"plain, one byte short": {bill[:len(bill)-1], sha1Hex(bill), ""},
		"one byte":              {[]byte{0x1f}, sha1Hex([]byte{0x1f}), CoveredBill},
	} {
		for _, step := range []int{1, 7, 32 << 10} {
			d := NewDigest()
			for b := tc.file; len(b) > 0; {
				n := min(step, len(b))
				d.Write(b[:n])
				b = b[n:]
			}
			res, err := CheckDigest(&Record{HashValue: tc.hash}, d.Finish())
			if tc.covered == "" {
				if !errors.Is(err, ErrMismatch) {
					t.Errorf("%s, writes of %d: err %v, want ErrMismatch", name, step, err)
				}
				continue
			}
			if err != nil || res.Covered != tc.covered {
				t.Errorf("%s, writes of %d: %v %v, want %s", name, step, res, err, tc.covered)
			}
		}
	}
	d := NewDigest()
	d.Write(packed[:1000])
	d.Abort() // the goroutine ends; nothing blocks
}

// TestDigestBoundsInflation: a gzip file that inflates past maxInflation
// bytes per byte received gets no digest of its decompression, and the
// decompression stops there rather than running through the whole bomb.
func TestDigestBoundsInflation(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 256 { // 256 MiB of zeros, about 256 KiB of gzip: ~1000 to one
		zw.Write(zeros)
	}
	zw.Close()
	d := NewDigest()
	d.Write(bomb.Bytes())
	if s := d.Finish(); s.bill != nil || !s.gzip {
		t.Errorf("a bill digest of a %d-byte gzip that inflates to 256 MiB", bomb.Len())
	}
	var ok bytes.Buffer
	zw = gzip.NewWriter(&ok)
	zw.Write(bytes.Repeat([]byte("2026-12-07 10:00:00,`1900000001,`4200000001\r\n"), 20000))
	zw.Close()
	d = NewDigest()
	d.Write(ok.Bytes())
	if s := d.Finish(); s.bill == nil {
		t.Errorf("no bill digest of a gzip bill that inflates %d to 1", 20000*45/ok.Len())
	}
}

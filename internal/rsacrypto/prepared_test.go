package rsacrypto

import (
	"bytes"
	"crypto"
	"crypto/fips140"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// The prepared-key RSA operations are judged by crypto/rsa (same seed, same
// ciphertext, byte for byte; same verdict on every signature) and by the
// official SDK's decryption.

func TestPreparedOAEPMatchesCryptoRSA(t *testing.T) {
	for _, key := range []*rsa.PrivateKey{testkit.Creds().WechatPayKey, rsaKey3072(t)} {
		p, err := prepare(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		limit := key.Size() - 2*sha1.Size - 2
		scratch := make([]byte, key.Size()) // reused, as EncryptFields does: longest messages first
		for n := limit + 1; n >= 0; n-- {
			msg := make([]byte, n)
			rand.Read(msg)
			seed := make([]byte, sha1.Size)
			rand.Read(seed)
			got, err := p.encryptOAEPSHA1(bytes.NewReader(seed), msg, scratch)
			want, werr := rsa.EncryptOAEP(sha1.New(), bytes.NewReader(seed), &key.PublicKey, msg, nil)
			if n > limit {
				if !errors.Is(err, rsa.ErrMessageTooLong) || werr == nil {
					t.Fatalf("%d-byte message: %v, crypto/rsa %v; want both refused", n, err, werr)
				}
				continue
			}
			if err != nil || werr != nil {
				t.Fatalf("%d-byte message: %v / %v", n, err, werr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d-byte message: ciphertext differs from crypto/rsa's for the same seed", n)
			}
			plain, err := utils.DecryptOAEP(base64.StdEncoding.EncodeToString(got), key)
			if err != nil || plain != string(msg) {
				t.Fatalf("%d-byte message: the SDK decrypts %v", n, err)
			}
		}
		if _, err := p.encryptOAEPSHA1(bytes.NewReader(nil), []byte("x"), nil); err == nil {
			t.Error("a random source that fails must fail the encryption")
		}
	}
}

func TestPreparedVerifyMatchesCryptoRSA(t *testing.T) {
	key := testkit.Creds().WechatPayKey
	p, err := prepare(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	hashed := sha256.Sum256([]byte("1700000000\nnonce\n{}\n"))
	good, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, hashed[:])
	if err != nil {
		t.Fatal(err)
	}
	sha1Sum := sha1.Sum([]byte("x"))
	otherHash, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA1, sha1Sum[:])
	raw, _ := rsa.SignPKCS1v15(nil, key, crypto.Hash(0), hashed[:]) // no DigestInfo
	flip := func(i int, bit byte) []byte {
		s := bytes.Clone(good)
		s[i] ^= bit
		return s
	}
	cases := map[string]struct {
		hashed, sig []byte
	}{
		"valid":              {hashed[:], good},
		"first byte flipped": {hashed[:], flip(0, 0x80)},
		"middle bit flipped": {hashed[:], flip(128, 0x01)},
		"last bit flipped":   {hashed[:], flip(255, 0x01)},
		"other digest":       {make([]byte, 32), good},
		"short digest":       {hashed[:31], good},
		"one byte short":     {hashed[:], good[1:]},
		"one byte long":      {hashed[:], append([]byte{0}, good...)},
		"empty":              {hashed[:], nil},
		"zero":               {hashed[:], make([]byte, 256)},
		"modulus itself":     {hashed[:], key.N.FillBytes(make([]byte, 256))},
		"above the modulus":  {hashed[:], new(big.Int).Add(key.N, big.NewInt(1)).FillBytes(make([]byte, 256))},
		"SHA-1 DigestInfo":   {hashed[:], otherHash},
		"no DigestInfo":      {hashed[:], raw},
	}
	for name, c := range cases {
		got := p.verifyPKCS1v15SHA256(c.hashed, c.sig)
		want := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, c.hashed, c.sig)
		if (got == nil) != (want == nil) {
			t.Errorf("%s: prepared key says %v, crypto/rsa says %v", name, got, want)
		}
		if name == "valid" && got != nil {
			t.Errorf("valid signature refused: %v", got)
		}
	}
}

func TestPreparedKeyRefusesWhatCryptoRSAShouldJudge(t *testing.T) {
	good := testkit.Creds().WechatPayKey.PublicKey
	even := good
	even.N = new(big.Int).Add(good.N, big.NewInt(1))
	small := good
	small.N = big.NewInt(3233)
	for name, k := range map[string]*rsa.PublicKey{
		"nil": nil, "even modulus": &even, "tiny modulus": &small,
		"exponent 1": {N: good.N, E: 1}, "even exponent": {N: good.N, E: 65536},
	} {
		if _, err := prepare(k); err == nil {
			t.Errorf("%s: prepared", name)
		}
	}
	// Such a key is left to crypto/rsa, which refuses it on use.
	e := NewPublicKey(&even)
	if e.prepared != nil {
		t.Fatal("an even modulus was prepared")
	}
	if _, err := e.EncryptOAEPSHA1([]byte("x"), nil); err == nil {
		t.Error("crypto/rsa encrypted under an even modulus")
	}
	// A key left to crypto/rsa still encrypts and verifies correctly.
	lit := &PublicKey{key: &good}
	ct, err := lit.EncryptOAEPSHA1([]byte("13800138000"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := utils.DecryptOAEP(base64.StdEncoding.EncodeToString(ct), testkit.Creds().WechatPayKey); err != nil || plain != "13800138000" {
		t.Errorf("the SDK decrypts %q, %v", plain, err)
	}
	hashed := sha256.Sum256([]byte("answer"))
	sig, _ := rsa.SignPKCS1v15(nil, testkit.Creds().WechatPayKey, crypto.SHA256, hashed[:])
	if err := lit.VerifyPKCS1v15SHA256(hashed[:], sig); err != nil {
		t.Errorf("crypto/rsa refused a good signature: %v", err)
	}
}

func rsaKey3072(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPreparedOddKeySizesMatchCryptoRSA repeats the comparison with crypto/rsa
// for moduli whose length is not a whole number of bytes, for a small and a
// large public exponent, and for a key too large for the verifier's stack
// buffer, including signatures over deliberately malformed encodings.
func TestPreparedOddKeySizesMatchCryptoRSA(t *testing.T) {
	for _, c := range []struct{ bits, e int }{{2047, 65537}, {2049, 3}, {4104, 1<<31 - 1}} {
		k := rsaKeyWithExponent(t, c.bits, c.e)
		pub := &k.PublicKey
		p, err := prepare(pub)
		if err != nil {
			t.Fatalf("%d bits, e=%d: %v", c.bits, c.e, err)
		}
		limit := pub.Size() - 2*sha1.Size - 2
		for _, n := range []int{0, 1, limit, limit + 1} {
			msg := bytes.Repeat([]byte{0xff}, n)
			seed := bytes.Repeat([]byte{0xff}, sha1.Size)
			got, err := p.encryptOAEPSHA1(bytes.NewReader(seed), msg, nil)
			want, werr := rsa.EncryptOAEP(sha1.New(), bytes.NewReader(seed), pub, msg, nil)
			if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("%d bits, %d-byte message: %v / crypto/rsa %v", c.bits, n, err, werr)
			}
		}
		hashed := sha256.Sum256([]byte("answer"))
		good, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, hashed[:])
		if err != nil {
			t.Fatal(err)
		}
		sigs := [][]byte{good, new(big.Int).Sub(pub.N, big.NewInt(1)).FillBytes(make([]byte, pub.Size()))}
		// The right encoding with one byte changed, signed with the raw
		// private operation so that only the encoding is wrong.
		want := rawPKCS1Encoding(pub.Size(), hashed[:])
		for i := 0; i < len(want); i += 7 {
			em := bytes.Clone(want)
			em[i] ^= 0x01
			if new(big.Int).SetBytes(em).Cmp(pub.N) < 0 {
				s := new(big.Int).Exp(new(big.Int).SetBytes(em), k.D, k.N)
				sigs = append(sigs, s.FillBytes(make([]byte, pub.Size())))
			}
		}
		for i, sig := range sigs {
			got := p.verifyPKCS1v15SHA256(hashed[:], sig)
			want := rsa.VerifyPKCS1v15(pub, crypto.SHA256, hashed[:], sig)
			if (got == nil) != (want == nil) || (i == 0 && got != nil) {
				t.Fatalf("%d bits, signature %d: prepared %v, crypto/rsa %v", c.bits, i, got, want)
			}
		}
	}
}

// rawPKCS1Encoding is EMSA-PKCS1-v1_5 for a SHA-256 digest, written apart
// from the module's verifier from RFC 8017, 9.2.
func rawPKCS1Encoding(size int, hashed []byte) []byte {
	digestInfo, _ := hex.DecodeString("3031300d060960864801650304020105000420")
	t := append(digestInfo, hashed...)
	em := append([]byte{0x00, 0x01}, bytes.Repeat([]byte{0xff}, size-len(t)-3)...)
	return append(append(em, 0x00), t...)
}

// rsaKeyWithExponent makes an RSA key of exactly bits bits with public
// exponent e, which rsa.GenerateKey cannot.
func rsaKeyWithExponent(t *testing.T, bits, e int) *rsa.PrivateKey {
	t.Helper()
	one, bigE := big.NewInt(1), big.NewInt(int64(e))
	for {
		p, err := rand.Prime(rand.Reader, bits/2)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, bits-bits/2)
		if err != nil {
			t.Fatal(err)
		}
		n := new(big.Int).Mul(p, q)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(bigE, phi)
		if n.BitLen() != bits || p.Cmp(q) == 0 || d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		return k
	}
}

// TestFIPS140ModeLeavesRSAToCryptoRSA runs this test binary again in FIPS
// 140-only mode: the package must load (nothing computes SHA-1 at start),
// and keys are not prepared, so crypto/rsa's validated module decides
// (it refuses SHA-1 OAEP there; WeChat Pay cannot be used in that mode);
// in a build with the openssl tag, OpenSSL is left out as well.
func TestFIPS140ModeLeavesRSAToCryptoRSA(t *testing.T) {
	pub := &testkit.Creds().WechatPayKey.PublicKey
	if os.Getenv("WECHATPAY_TEST_FIPS_CHILD") == "1" {
		if !fips140.Enabled() {
			t.Fatal("FIPS 140 mode is not on in the child")
		}
		if _, err := prepare(pub); err == nil {
			t.Error("a key was prepared in FIPS 140 mode")
		}
		_, werr := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, []byte("x"), nil)
		if _, err := NewPublicKey(pub).EncryptOAEPSHA1([]byte("x"), nil); (err == nil) != (werr == nil) {
			t.Errorf("PublicKey: %v, crypto/rsa: %v", err, werr)
		}
		// The OpenSSL build too leaves the merchant key to crypto/rsa.
		if name, _, _ := Backend(); name != goBackendName {
			t.Errorf("Backend() = %q in FIPS 140 mode, want %q", name, goBackendName)
		}
		merchant := testkit.Creds().MerchantKey
		k, err := NewPrivateKey(merchant)
		if err != nil {
			t.Fatal(err)
		}
		if k.native != nil {
			t.Error("a private key was loaded into OpenSSL in FIPS 140 mode")
		}
		hashed := sha256.Sum256([]byte("x"))
		want, werr := rsa.SignPKCS1v15(nil, merchant, crypto.SHA256, hashed[:])
		if got, err := k.SignPKCS1v15SHA256(hashed[:]); (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Errorf("signature in FIPS 140 mode: %v, crypto/rsa: %v", err, werr)
		}
		return
	}
	self, err := os.Executable() // not os.Args[0]: the CLI tests change it
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestFIPS140ModeLeavesRSAToCryptoRSA$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG=fips140=only", "WECHATPAY_TEST_FIPS_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in FIPS 140-only mode: %v\n%s", err, out)
	}
}

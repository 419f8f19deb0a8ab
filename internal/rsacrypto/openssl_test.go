//go:build openssl && cgo && linux && !android

package rsacrypto

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// The OpenSSL backend is judged by crypto/rsa (the same signature bytes,
// the same decryption verdicts) and by the official SDK (its verifier
// accepts the signatures; what its OAEP encrypts decrypts). These tests
// are built only with the openssl tag, and skip, saying so, when libcrypto
// cannot be loaded.

// requireOpenSSL skips the test when this process signs with crypto/rsa,
// or fails it when WECHATPAY_TEST_REQUIRE_OPENSSL=1 (scripts/test-openssl.sh
// sets it once it has found libcrypto.so.3).
func requireOpenSSL(t testing.TB) {
	t.Helper()
	if name, _, err := Backend(); err != nil || name != openSSLBackendName {
		if os.Getenv("WECHATPAY_TEST_REQUIRE_OPENSSL") == "1" {
			t.Fatalf("OpenSSL backend not loaded: %v", err)
		}
		t.Skipf("skipped: OpenSSL backend not loaded (%v)", err)
	}
}

// opensslKey prepares key and fails the test unless libcrypto holds it.
func opensslKey(t testing.TB, key *rsa.PrivateKey) *PrivateKey {
	t.Helper()
	k, err := NewPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if k.native == nil || k.Backend() != openSSLBackendName {
		t.Fatalf("%d-bit key, e=%d: not loaded into OpenSSL", key.N.BitLen(), key.E)
	}
	return k
}

// testKeys are the keys the comparisons run on: the fixtures' RSA-2048
// keys, fresh ones, a 3072-bit key, and odd sizes with a small and a large
// public exponent.
func testKeys(t *testing.T) []*rsa.PrivateKey {
	c := testkit.Creds()
	keys := []*rsa.PrivateKey{c.MerchantKey, c.WechatPayKey, c.PlatformKey, testkit.NewKey(), testkit.NewKey(), rsaKey3072(t)}
	for _, s := range []struct{ bits, e int }{{2047, 65537}, {2049, 3}, {2048, 1<<31 - 1}} {
		keys = append(keys, rsaKeyWithExponent(t, s.bits, s.e))
	}
	return keys
}

func TestOpenSSLSignatureEqualsCryptoRSAAndTheSDKVerifies(t *testing.T) {
	requireOpenSSL(t)
	for _, key := range testKeys(t) {
		k := opensslKey(t, key)
		name := fmt.Sprintf("%d-bit key, e=%d", key.N.BitLen(), key.E)
		verifier := verifiers.NewSHA256WithRSAPubkeyVerifier("KEY", key.PublicKey)
		msgs := []string{"", "POST\n/v3/pay/transactions/jsapi\n1700000000\nNONCE\n{}\n", "wx8888888888888888\n1700000000\nn\nprepay_id=wx1\n"}
		for i := 0; i < 40; i++ {
			b := make([]byte, i*37)
			rand.Read(b)
			msgs = append(msgs, string(b))
		}
		for _, msg := range msgs {
			digest := sha256.Sum256([]byte(msg))
			got, err := k.SignPKCS1v15SHA256(digest[:])
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
			if err != nil {
				t.Fatalf("%s: crypto/rsa: %v", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s, %d-byte message: OpenSSL's signature differs from crypto/rsa's", name, len(msg))
			}
			if err := verifier.Verify(context.Background(), "KEY", msg, base64.StdEncoding.EncodeToString(got)); err != nil {
				t.Fatalf("%s, %d-byte message: the SDK's verifier refuses it: %v", name, len(msg), err)
			}
		}
		if _, err := k.SignPKCS1v15SHA256(make([]byte, 20)); err == nil {
			t.Errorf("%s: a 20-byte digest was signed as SHA-256", name)
		}
	}
}

// The SDK's signer too, on the merchant key: the same base64 text.
func TestOpenSSLSignatureEqualsTheSDKSigners(t *testing.T) {
	requireOpenSSL(t)
	merchant := testkit.Creds().MerchantKey
	k := opensslKey(t, merchant)
	for _, msg := range []string{"", "GET\n/v3/certificates\n1700000000\nNONCE\n\n", "张三\n"} {
		digest := sha256.Sum256([]byte(msg))
		sig, err := k.SignPKCS1v15SHA256(digest[:])
		if err != nil {
			t.Fatal(err)
		}
		want, err := utils.SignSHA256WithRSA(msg, merchant)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.StdEncoding.EncodeToString(sig); got != want {
			t.Errorf("%q: OpenSSL's signature differs from the SDK signer's", msg)
		}
	}
}

func TestOpenSSLDecryptsWhatTheSDKEncrypts(t *testing.T) {
	requireOpenSSL(t)
	for _, key := range []*rsa.PrivateKey{testkit.Creds().MerchantKey, rsaKey3072(t), rsaKeyWithExponent(t, 2047, 3)} {
		k := opensslKey(t, key)
		limit := key.Size() - 2*sha1.Size - 2
		for _, n := range []int{0, 1, 11, 19, 100, limit} {
			plain := make([]byte, n)
			rand.Read(plain)
			ct, err := utils.EncryptOAEPWithPublicKey(string(plain), &key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.StdEncoding.DecodeString(ct)
			got, err := k.DecryptOAEPSHA1(raw)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%d-bit key, %d-byte plaintext: decrypted %x, %v", key.N.BitLen(), n, got, err)
			}
		}
	}
}

// Every ciphertext gets crypto/rsa's verdict, and every refusal is
// rsa.ErrDecryption, as crypto/rsa's are.
func TestOpenSSLDecryptionVerdictsMatchCryptoRSA(t *testing.T) {
	requireOpenSSL(t)
	merchant := testkit.Creds().MerchantKey
	k := opensslKey(t, merchant)
	good, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &merchant.PublicKey, []byte("6222021234567890123"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sha256Label, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &merchant.PublicKey, []byte("x"), nil)
	withLabel, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &merchant.PublicKey, []byte("x"), []byte("label"))
	otherKey, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &testkit.Creds().WechatPayKey.PublicKey, []byte("x"), nil)
	pkcs1, _ := rsa.EncryptPKCS1v15(rand.Reader, &merchant.PublicKey, []byte("x"))
	flip := func(i int, bit byte) []byte {
		c := bytes.Clone(good)
		c[i] ^= bit
		return c
	}
	cases := map[string][]byte{
		"valid":              good,
		"first bit flipped":  flip(0, 0x80),
		"middle bit flipped": flip(128, 0x10),
		"last bit flipped":   flip(255, 0x01),
		"one byte short":     good[1:],
		"one byte long":      append([]byte{0}, good...),
		"empty":              nil,
		"zero":               make([]byte, 256),
		"one":                big.NewInt(1).FillBytes(make([]byte, 256)),
		"modulus itself":     merchant.N.FillBytes(make([]byte, 256)),
		"above the modulus":  bytes.Repeat([]byte{0xff}, 256),
		"SHA-256 OAEP":       sha256Label,
		"labelled":           withLabel,
		"other key":          otherKey,
		"PKCS #1 v1.5":       pkcs1,
	}
	for name, ct := range cases {
		got, err := k.DecryptOAEPSHA1(ct)
		want, werr := rsa.DecryptOAEP(sha1.New(), nil, merchant, ct, nil)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Errorf("%s: OpenSSL %q, %v; crypto/rsa %q, %v", name, got, err, want, werr)
		}
		if err != nil && !errors.Is(err, rsa.ErrDecryption) {
			t.Errorf("%s: the error is %v, not rsa.ErrDecryption", name, err)
		}
	}
}

// One key signs for many requests at once, as a key set does.
func TestOpenSSLConcurrentSignatures(t *testing.T) {
	requireOpenSSL(t)
	merchant := testkit.Creds().MerchantKey
	k := opensslKey(t, merchant)
	digests := make([][32]byte, 8)
	want := make([][]byte, len(digests))
	for i := range digests {
		digests[i] = sha256.Sum256([]byte{byte(i)})
		want[i], _ = rsa.SignPKCS1v15(nil, merchant, crypto.SHA256, digests[i][:])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 24 {
				j := (g + i) % len(digests)
				sig, err := k.SignPKCS1v15SHA256(digests[j][:])
				if err != nil || !bytes.Equal(sig, want[j]) {
					errs <- fmt.Errorf("goroutine %d, digest %d: %v", g, j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A key crypto/rsa finds invalid is left to crypto/rsa, which refuses it
// on use, as in the default build; so is a multi-prime key.
func TestOpenSSLLeavesOddKeysToCryptoRSA(t *testing.T) {
	requireOpenSSL(t)
	bad := *testkit.NewKey()
	bad.D = new(big.Int).Add(bad.D, big.NewInt(2))
	k, err := NewPrivateKey(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if k.native != nil || k.Backend() != goBackendName {
		t.Error("a key crypto/rsa finds invalid was loaded into OpenSSL")
	}
	digest := sha256.Sum256([]byte("x"))
	_, werr := rsa.SignPKCS1v15(nil, &bad, crypto.SHA256, digest[:])
	if _, err := k.SignPKCS1v15SHA256(digest[:]); (err == nil) != (werr == nil) {
		t.Errorf("invalid key: %v, crypto/rsa %v", err, werr)
	}

	multi, err := rsa.GenerateMultiPrimeKey(rand.Reader, 3, 2048) //nolint:staticcheck // a key someone may still load
	if err != nil {
		t.Fatal(err)
	}
	k, err = NewPrivateKey(multi)
	if err != nil {
		t.Fatal(err)
	}
	if k.native != nil {
		t.Error("a three-prime key was loaded into OpenSSL")
	}
	_, werr = rsa.SignPKCS1v15(nil, multi, crypto.SHA256, digest[:])
	if _, err := k.SignPKCS1v15SHA256(digest[:]); (err == nil) != (werr == nil) {
		t.Errorf("three-prime key: %v, crypto/rsa %v", err, werr)
	}
}

// TestOpenSSLMissingFallsBackToCryptoRSA runs this test binary again with
// GO_OPENSSL_VERSION_OVERRIDE naming a libcrypto that does not exist: the
// backend reports the error and crypto/rsa signs, the same bytes.
func TestOpenSSLMissingFallsBackToCryptoRSA(t *testing.T) {
	if os.Getenv("WECHATPAY_TEST_NOLIB_CHILD") == "1" {
		name, _, err := Backend()
		if name != goBackendName || err == nil || !strings.Contains(err.Error(), "libcrypto.so.rsacrypto-missing") {
			t.Fatalf("Backend() = %q, %v; want crypto/rsa and the load error", name, err)
		}
		merchant := testkit.Creds().MerchantKey
		k, err := NewPrivateKey(merchant)
		if err != nil {
			t.Fatal(err)
		}
		if k.native != nil {
			t.Fatal("a key was loaded into an OpenSSL that failed to load")
		}
		digest := sha256.Sum256([]byte("x"))
		got, err := k.SignPKCS1v15SHA256(digest[:])
		want, _ := rsa.SignPKCS1v15(nil, merchant, crypto.SHA256, digest[:])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("fallback signature: %v", err)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestOpenSSLMissingFallsBackToCryptoRSA$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GO_OPENSSL_VERSION_OVERRIDE=rsacrypto-missing", "WECHATPAY_TEST_NOLIB_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("--- PASS")) {
		t.Fatalf("without libcrypto: %v\n%s", err, out)
	}
}

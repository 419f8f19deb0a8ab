package apiv3

import (
	"bytes"
	"context"
	"crypto/rsa"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
)

// message is the signed message as WeChat Pay documents it, built apart from
// the signer: five lines, each ending in a newline.
func message(method, uri string, timestamp int64, nonce string, body []byte) string {
	return method + "\n" + uri + "\n" + strconv.FormatInt(timestamp, 10) + "\n" + nonce + "\n" + string(body) + "\n"
}

func signingKey(t testing.TB, k *rsa.PrivateKey) *rsacrypto.PrivateKey {
	t.Helper()
	key, err := rsacrypto.NewPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestSignKnownAnswer checks signatures against values computed outside Go:
// printf '<message>' | openssl dgst -sha256 -sign kat.pem | base64 -w0, kat.pem holding testkit.KATKeyPEM
func TestSignKnownAnswer(t *testing.T) {
	key, err := pemkey.LoadPrivateKey(testkit.KATKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := &Signer{MchID: "1900000001", SerialNo: "ABC123", Key: signingKey(t, key)}
	for _, tc := range []struct {
		method, uri, body, want string
	}{
		{"POST", "/v3/eduschoolpay/contracts/presign?x=1", `{"appid":"wx8888888888888888"}`,
			"PU3BNRgeko1hnkRrNz3MUA7Dfjg7YkX6d4qzeV4HZo8A2ARBTP7Pd5M0F9snbMxOF9/ejG2jXA8vXpAIqFATwWB5Ifg6eryEnm6J7rJ2WzCUs653dWrtlQB8XVg1gZunpDaI4lmAMw8geCvG66TWvpvbHI5NbHAF/ETmot8Ds3BSgMjd/LKChY1Pnwx1YnHQmA6L3tQe7fzVNWZkXe5E/hlsXHxfdyk9KTiFaPuvWX/9IVs5S9CY77ghCphPb7IaaJDp17KdS0ELF6a033yq4BGOHRxWd6gSqKoLxmsuDIywD/b3XtPpN9wk/3/uB10VTeigMLzvrCpe5D47XuTOIQ=="},
		{"GET", "/v3/certificates", "",
			"iRBH9tTK5OQr9thwzqIxDujST5jGXAsWnLhuv2QkiznksuY+DD9dxN0ejFvCThlI9Rtwv9N5mQT51oWKpQr90co88lpeoCZPJyqPq/4QMztWCF6k6vmZDlXp59AbhB9IMyBy0Sx+AvLzf2kJ7tHjX7SjFxzMev1voxnL+OfSAFOqCHn31c6NSTRzm1h1bM1mPxBFAarvcdlyT53rtcisbn9Wo5naas/KmCRc+DybJkn/P0Ozt6Ales+bCG5lc3kicRYRH2mXbbzfJQAzjfgbvKGeLcU6dHZNzVMrlTQEojmPgmWGrOLazKqVi+SSnnL+0awaPJlN0zCd1zsoDILIqg=="},
	} {
		got, err := s.Sign(tc.method, tc.uri, 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", []byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s %s: signature = %s, want %s", tc.method, tc.uri, got, tc.want)
		}
	}
}

// TestSignMatchesSDK signs the same messages with the official SDK's signer
// (PKCS #1 v1.5 is deterministic, so the signatures must be identical) and
// verifies ours with the SDK's verifier.
func TestSignMatchesSDK(t *testing.T) {
	c := testkit.Creds()
	s := &Signer{MchID: c.MchID, SerialNo: c.SerialNo, Key: signingKey(t, c.MerchantKey)}
	sdk := &signers.SHA256WithRSASigner{MchID: c.MchID, CertificateSerialNo: c.SerialNo, PrivateKey: c.MerchantKey}
	verifier := verifiers.NewSHA256WithRSAPubkeyVerifier("merchant", c.MerchantKey.PublicKey)
	for _, body := range []string{"", "{}", testkit.PresignBody, "\x00binary\xff", strings.Repeat("数据", 5000)} {
		ours, err := s.Sign("POST", "/v3/a/b?c=d&e=%20", 1700000000, "N0NCE", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		msg := message("POST", "/v3/a/b?c=d&e=%20", 1700000000, "N0NCE", []byte(body))
		theirs, err := sdk.Sign(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if ours != theirs.Signature {
			t.Errorf("body %.20q: signature differs from the SDK's", body)
		}
		if err := verifier.Verify(context.Background(), "merchant", msg, ours); err != nil {
			t.Errorf("SDK verifier refuses our signature: %v", err)
		}
	}
}

func TestAuthorizationHeader(t *testing.T) {
	c := testkit.Creds()
	s := &Signer{MchID: c.MchID, SerialNo: c.SerialNo, Key: signingKey(t, c.MerchantKey)}
	nonce, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Authorization("GET", "/v3/x", 1554208460, nonce, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := testkit.AuthorizationRE.FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("Authorization %q does not have WeChat Pay's form", h)
	}
	if m[1] != c.MchID || m[2] != nonce || m[4] != "1554208460" || m[5] != c.SerialNo {
		t.Errorf("Authorization parameters wrong: %q", h)
	}
}

func TestNonce(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		n, err := NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9A-Za-z]{32}$`).MatchString(n) {
			t.Fatalf("nonce %q is not 32 characters of [0-9A-Za-z]", n)
		}
		if seen[n] {
			t.Fatalf("nonce %q repeated", n)
		}
		seen[n] = true
		for _, r := range n {
			counts[r]++
		}
	}
	// 64000 characters over 62 symbols: about 1032 each. A biased mapping
	// (b % 62 without rejection) would give the first 8 symbols ~1.23x more.
	for r, n := range counts {
		if n < 800 || n > 1270 {
			t.Errorf("character %q appeared %d times out of 64000: not uniform", r, n)
		}
	}
	if len(counts) != 62 {
		t.Errorf("only %d distinct characters used", len(counts))
	}
}

// TestNonceRejectsBiasedBytes: bytes 248-255 are skipped (so each of the
// 62 characters is drawn from exactly 4 byte values) and the rest map by
// b % 62, checked on fixed input rather than by chance.
func TestNonceRejectsBiasedBytes(t *testing.T) {
	block := func(skipped int, b func(i int) byte) []byte {
		out := make([]byte, 64)
		for i := range out {
			if i < skipped {
				out[i] = byte(248 + i%8)
			} else {
				out[i] = b(i - skipped)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		input []byte
		want  string
	}{
		{"skipped then 0..31", block(8, func(i int) byte { return byte(i) }), nonceAlphabet[:32]},
		{"62, 124, 186 and 247", block(32, func(i int) byte { return []byte{62, 124, 186, 247}[i%4] }),
			strings.Repeat(nonceAlphabet[:1]+nonceAlphabet[:1]+nonceAlphabet[:1]+nonceAlphabet[61:62], 8)},
		{"a whole block skipped", append(block(64, nil), block(0, func(i int) byte { return byte(61 - i%62) })...),
			reverse(nonceAlphabet[30:62])},
	} {
		got, err := newNonce(bytes.NewReader(tc.input))
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

func TestNonceFromFailingReader(t *testing.T) {
	if _, err := newNonce(bytes.NewReader(nil)); err == nil {
		t.Fatal("a failing random source must be an error")
	}
}

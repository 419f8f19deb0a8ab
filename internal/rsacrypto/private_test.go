package rsacrypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// The private key's operations are judged by the official SDK: its signer
// must produce the same bytes (PKCS #1 v1.5 is deterministic) and its
// verifier accept them; what its OAEP encrypts must decrypt.

func TestSignatureEqualsTheSDKs(t *testing.T) {
	merchant := testkit.Creds().MerchantKey
	k, err := NewPrivateKey(merchant)
	if err != nil {
		t.Fatal(err)
	}
	verifier := verifiers.NewSHA256WithRSAPubkeyVerifier("KEY", *k.Public())
	for _, msg := range []string{"", "POST\n/v3/pay/transactions/jsapi\n1700000000\nNONCE\n{}\n", "wx8888888888888888\n1700000000\nn\nprepay_id=wx1\n"} {
		digest := sha256.Sum256([]byte(msg))
		sig, err := k.SignPKCS1v15SHA256(digest[:])
		if err != nil {
			t.Fatal(err)
		}
		want, err := utils.SignSHA256WithRSA(msg, merchant)
		if err != nil {
			t.Fatal(err)
		}
		got := base64.StdEncoding.EncodeToString(sig)
		if got != want {
			t.Errorf("%q: signature differs from the SDK signer's", msg)
		}
		if err := verifier.Verify(context.Background(), "KEY", msg, got); err != nil {
			t.Errorf("%q: the SDK's verifier refuses it: %v", msg, err)
		}
	}
	if _, err := k.SignPKCS1v15SHA256(make([]byte, 20)); err == nil {
		t.Error("a 20-byte digest was signed as SHA-256")
	}
	if _, err := NewPrivateKey(nil); err == nil {
		t.Error("a nil key was accepted")
	}
}

func TestDecryptWhatTheSDKEncrypts(t *testing.T) {
	merchant := testkit.Creds().MerchantKey
	k, err := NewPrivateKey(merchant)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"", "张三", "6222021234567890123", string(bytes.Repeat([]byte{'x'}, 214))} {
		ct, err := utils.EncryptOAEPWithPublicKey(plain, &merchant.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(ct)
		got, err := k.DecryptOAEPSHA1(raw)
		if err != nil || string(got) != plain {
			t.Errorf("%q: decrypted %q, %v", plain, got, err)
		}
	}
	if _, err := k.DecryptOAEPSHA1(make([]byte, 256)); err == nil {
		t.Error("a zero ciphertext decrypted")
	}
}

package apiv3

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// seal encrypts as WeChat Pay does, written apart from Open.
func seal(t *testing.T, key, nonce, ad, plain string) string {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), []byte(plain), []byte(ad)))
}

func TestResourceOpen(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	aead, err := NewAEAD([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	plain := `{"mchid":"1900000001","trade_state":"SUCCESS"}`
	r := Resource{Algorithm: ResourceAlgorithm, Nonce: "fdasflkja484", AssociatedData: "transaction",
		Ciphertext: seal(t, key, "fdasflkja484", "transaction", plain)}
	got, err := r.Open(aead)
	if err != nil || string(got) != plain {
		t.Fatalf("opened %q, %v", got, err)
	}
	// The official SDK opens the same resource to the same plaintext.
	if sdk, err := utils.DecryptAES256GCM(key, r.AssociatedData, r.Nonce, r.Ciphertext); err != nil || sdk != plain {
		t.Fatalf("the SDK opens %q, %v", sdk, err)
	}

	for name, c := range map[string]struct {
		mutate func(*Resource)
		want   ResourceProblem
	}{
		"short nonce": {func(r *Resource) { r.Nonce = "short" }, NonceSizeWrong},
		"not base64":  {func(r *Resource) { r.Ciphertext = "%%%" }, CiphertextNotBase64},
		"other ad":    {func(r *Resource) { r.AssociatedData = "certificate" }, NotAuthentic},
		"other nonce": {func(r *Resource) { r.Nonce = "fdasflkja485" }, NotAuthentic},
		"flipped ciphertext": {func(r *Resource) {
			b, _ := base64.StdEncoding.DecodeString(r.Ciphertext)
			b[0] ^= 1
			r.Ciphertext = base64.StdEncoding.EncodeToString(b)
		}, NotAuthentic},
		"truncated ciphertext": {func(r *Resource) { r.Ciphertext = r.Ciphertext[:8] }, NotAuthentic},
	} {
		bad := r
		c.mutate(&bad)
		_, err := bad.Open(aead)
		var re *ResourceError
		if !errors.As(err, &re) || re.Problem != c.want {
			t.Errorf("%s: %v, want problem %d", name, err, c.want)
		}
	}
	other, _ := NewAEAD(bytes.Repeat([]byte{'k'}, 32))
	if _, err := r.Open(other); err == nil {
		t.Error("opened under another key")
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := NewAEAD(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte APIv3 key was accepted", n)
		}
	}
}

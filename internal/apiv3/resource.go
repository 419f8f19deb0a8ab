package apiv3

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
)

const (
	// APIv3KeySize is the length of an APIv3 key (APIv3密钥) in bytes: an
	// AES-256 key.
	APIv3KeySize = 32
	// ResourceAlgorithm is the only algorithm WeChat Pay encrypts resources
	// with, in callbacks and certificate downloads.
	ResourceAlgorithm = "AEAD_AES_256_GCM"
)

// NewAEAD returns the AES-256-GCM cipher of an APIv3 key, which must be
// exactly APIv3KeySize bytes. The error never quotes the key.
func NewAEAD(apiv3Key []byte) (cipher.AEAD, error) {
	if len(apiv3Key) != APIv3KeySize {
		return nil, fmt.Errorf("the APIv3 key must be %d bytes, got %d", APIv3KeySize, len(apiv3Key))
	}
	block, err := aes.NewCipher(apiv3Key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Resource is a resource WeChat Pay encrypted under the APIv3 key: a
// callback's "resource" and a certificate download's "encrypt_certificate".
type Resource struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
	// OriginalType is the type of the plaintext (callbacks only).
	OriginalType string `json:"original_type,omitempty"`
}

// ResourceError says why a resource could not be opened; callers word it
// for their readers. It never holds the plaintext or the key.
type ResourceError struct {
	// Problem is what went wrong.
	Problem ResourceProblem
	// NonceSize is the length of the resource's nonce, for NonceSizeWrong.
	NonceSize int
}

// ResourceProblem is the kind of a ResourceError.
type ResourceProblem int

const (
	// NonceSizeWrong: the nonce is not the GCM nonce size (12 bytes).
	NonceSizeWrong ResourceProblem = iota + 1
	// CiphertextNotBase64: the ciphertext is not standard base64.
	CiphertextNotBase64
	// NotAuthentic: the ciphertext does not open under the key (a wrong
	// APIv3 key, or an altered ciphertext, nonce or associated data).
	NotAuthentic
)

func (e *ResourceError) Error() string {
	switch e.Problem {
	case NonceSizeWrong:
		return fmt.Sprintf("nonce is %d bytes, want 12", e.NonceSize)
	case CiphertextNotBase64:
		return "ciphertext is not base64"
	default:
		return "does not decrypt with the APIv3 key"
	}
}

// Open decrypts the resource with aead (from NewAEAD): the nonce and
// additional data are the bytes of Nonce and AssociatedData, the ciphertext
// is Ciphertext decoded from standard base64. The algorithm is the caller's
// to check. Errors are *ResourceError.
func (r *Resource) Open(aead cipher.AEAD) ([]byte, error) {
	if len(r.Nonce) != aead.NonceSize() {
		return nil, &ResourceError{Problem: NonceSizeWrong, NonceSize: len(r.Nonce)}
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return nil, &ResourceError{Problem: CiphertextNotBase64}
	}
	plain, err := aead.Open(nil, []byte(r.Nonce), ct, []byte(r.AssociatedData))
	if err != nil {
		return nil, &ResourceError{Problem: NotAuthentic}
	}
	return plain, nil
}

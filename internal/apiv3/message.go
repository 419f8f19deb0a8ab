package apiv3

import "crypto/sha256"

// messageDigest returns the SHA-256 digest of a message WeChat Pay signs:
// head (its first lines, each ending in "\n"), then body, then "\n". The
// body is hashed where it lies, never copied. sum holds the result.
func messageDigest(head, body []byte, sum *[sha256.Size]byte) []byte {
	h := sha256.New()
	h.Write(head)
	h.Write(body)
	h.Write(newline)
	return h.Sum(sum[:0])
}

var newline = []byte{'\n'}

package bill

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
)

// What a matching digest covered, as Verify reports it.
const (
	// CoveredFile: the file as WeChat Pay sent it.
	CoveredFile = "file"
	// CoveredBill: the bill after decompression (and decryption): what
	// WeChat Pay's documentation of hash_value names.
	CoveredBill = "bill"
	// CoveredDecrypted: an encrypted bill's plaintext before decompression.
	CoveredDecrypted = "decrypted"
)

// Errors of Verify. Neither quotes a byte of the bill or of a key.
var (
	// ErrMismatch: no digest of the download matches hash_value.
	ErrMismatch = errors.New("the bill's SHA1 does not match the hash_value WeChat Pay signed")
	// ErrDecrypt: the encrypted bill could not be opened (the key does not
	// decrypt with the merchant key, or GCM authentication failed).
	ErrDecrypt = errors.New("the encrypted bill could not be decrypted and authenticated")
)

// KeyOpener decrypts a record's encrypt_key (base64 RSA-OAEP ciphertext)
// with the merchant's private key.
type KeyOpener func(encryptKey []byte) ([]byte, error)

// Result is a download that matched its record.
type Result struct {
	// Covered says which bytes matched: CoveredBill, CoveredFile or
	// CoveredDecrypted.
	Covered string
	// Plain is the decrypted file of an encrypted bill (still gzip when
	// WeChat Pay compressed it); nil for a plain bill.
	Plain []byte
}

// maxInflation bounds how many bytes a gzip file is decompressed to, per
// byte of it, while its digest is computed: real bills compress about ten
// to one; a file that inflates past this is not a bill, and no digest of
// its decompression is tried.
const maxInflation = 100

// Verify checks the download in s against rec. A plain bill is read from
// the spool in one pass, never whole in memory; an encrypted one is opened
// in memory (AES-256-GCM authenticates the whole ciphertext at once), with
// the key open decrypts. The digest may cover the bill after decompression
// (and decryption), as WeChat Pay documents hash_value, or the file as
// sent, or the decrypted file before decompression: a match on any counts,
// and Result says which.
func Verify(rec *Record, s *Spool, open KeyOpener) (*Result, error) {
	want, err := hex.DecodeString(rec.HashValue)
	if err != nil || len(want) != sha1.Size {
		return nil, ErrMismatch
	}
	if !rec.Encrypted() {
		r, err := s.Reader()
		if err != nil {
			return nil, err
		}
		d, err := digests(r, s.Size())
		if err != nil {
			return nil, err
		}
		if covered := d.match(want, CoveredFile); covered != "" {
			return &Result{Covered: covered}, nil
		}
		return nil, ErrMismatch
	}
	ct, err := s.Bytes()
	if err != nil {
		return nil, err
	}
	plain, err := Decrypt(rec, ct, open)
	if err != nil {
		return nil, err
	}
	d, err := digests(bytes.NewReader(plain), int64(len(plain)))
	if err != nil {
		return nil, err
	}
	covered := d.match(want, CoveredDecrypted)
	if covered == "" {
		sum := sha1.Sum(ct)
		if subtle.ConstantTimeCompare(sum[:], want) == 1 {
			covered = CoveredFile
		}
	}
	if covered == "" {
		return nil, ErrMismatch
	}
	return &Result{Covered: covered, Plain: plain}, nil
}

// Decrypt opens an encrypted bill: encrypt_key decrypts (with open) to the
// 32-byte AES key; the file is the GCM ciphertext with its 16-byte tag at
// the end, the nonce is the record's nonce string as bytes (WeChat Pay's
// are 16 characters: not GCM's usual 12), and the associated data is
// empty.
func Decrypt(rec *Record, ciphertext []byte, open KeyOpener) ([]byte, error) {
	key, err := open([]byte(rec.EncryptKey))
	if err != nil || len(key) != 32 || rec.Nonce == "" {
		return nil, ErrDecrypt
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrDecrypt
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(rec.Nonce))
	if err != nil {
		return nil, ErrDecrypt
	}
	plain, err := gcm.Open(ciphertext[:0:0], []byte(rec.Nonce), ciphertext, nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// sums are the digests of one pass over a file: of its bytes, and of its
// decompression when it is gzip and decompresses whole.
type sums struct {
	file, bill []byte
	gzip       bool // the file starts as gzip does
}

// match returns which digest equals want: the decompressed bill first,
// then the file (named asFile); "" for none.
func (d sums) match(want []byte, asFile string) string {
	if d.bill != nil && subtle.ConstantTimeCompare(d.bill, want) == 1 {
		return CoveredBill
	}
	if subtle.ConstantTimeCompare(d.file, want) == 1 {
		if !d.gzip {
			return CoveredBill // a file that is not compressed is the bill
		}
		return asFile
	}
	return ""
}

// digests reads r (size bytes) once, hashing its bytes and, when it starts
// as gzip does, its decompression.
func digests(r io.Reader, size int64) (sums, error) {
	fileHash := sha1.New()
	br := bufio.NewReaderSize(io.TeeReader(r, fileHash), 64<<10)
	var out sums
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		out.gzip = true
		out.bill = gunzipDigest(br, size*maxInflation+(1<<20))
	}
	// What gunzip left (trailing bytes, or all of it after an error)
	// still counts for the file's digest.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return sums{}, err
	}
	out.file = fileHash.Sum(nil)
	return out, nil
}

// gunzipDigest returns the SHA1 of the decompression of what br holds, or
// nil when it is not whole gzip or inflates past limit bytes.
func gunzipDigest(br *bufio.Reader, limit int64) []byte {
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil
	}
	var h hash.Hash = sha1.New()
	n, err := io.Copy(h, io.LimitReader(zr, limit+1))
	if err != nil || n > limit {
		return nil
	}
	return h.Sum(nil)
}

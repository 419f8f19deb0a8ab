package rsacrypto

import (
	"crypto/fips140"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"

	"filippo.io/bigmod"
)

// preparedPublic is an RSA public key with its modulus prepared once for
// constant-time arithmetic (filippo.io/bigmod, the package crypto/rsa is
// built on, published on its own). crypto/rsa prepares the modulus again on
// every encryption and verification, which for RSA-2048 is a third of an
// OAEP encryption's cost; a presign request does five encryptions and one
// verification under the same key. The operations below are RFC 8017's,
// checked byte for byte against crypto/rsa and the official SDK in tests.
type preparedPublic struct {
	n    *bigmod.Modulus
	e    uint
	size int // bytes of the modulus
}

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017,
// 9.2, note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// emptySHA1 is SHA-1 of the empty label, written out: computing it at
// start would panic in FIPS 140-only mode, where SHA-1 is not allowed.
var emptySHA1 = [sha1.Size]byte{0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55,
	0xbf, 0xef, 0x95, 0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09}

var errRSAVerification = errors.New("crypto/rsa: verification error")

// prepare prepares k, or returns an error for a key that crypto/rsa
// should handle (and refuse) itself: an even or tiny modulus, an exponent
// out of range; and always in FIPS 140 mode, where the validated module in
// crypto/rsa must do the work (and refuses SHA-1 OAEP when enforced).
func prepare(k *rsa.PublicKey) (*preparedPublic, error) {
	if fips140.Enabled() {
		return nil, errors.New("FIPS 140 mode: crypto/rsa does the RSA operations")
	}
	if k == nil || k.N == nil || k.N.Sign() <= 0 || k.N.Bit(0) == 0 || k.N.BitLen() < 1024 {
		return nil, errors.New("unsupported RSA modulus")
	}
	if k.E < 3 || k.E > 1<<31-1 || k.E&1 == 0 {
		return nil, errors.New("unsupported RSA public exponent")
	}
	n, err := bigmod.NewModulus(k.N.Bytes())
	if err != nil {
		return nil, err
	}
	return &preparedPublic{n: n, e: uint(k.E), size: (k.N.BitLen() + 7) / 8}, nil
}

// encryptOAEPSHA1 encrypts msg with RSAES-OAEP, SHA-1 and MGF1-SHA-1 and an
// empty label (RFC 8017, 7.1.1), reading the 20-byte seed from random. em,
// when it has the key's size, is the scratch space for the encoded message
// (which reveals msg: the caller clears it when done); nil allocates one.
func (k *preparedPublic) encryptOAEPSHA1(random io.Reader, msg, em []byte) ([]byte, error) {
	const hLen = sha1.Size
	if len(msg) > k.size-2*hLen-2 {
		return nil, rsa.ErrMessageTooLong
	}
	// EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M
	if len(em) != k.size {
		em = make([]byte, k.size)
	} else {
		clear(em)
	}
	seed, db := em[1:1+hLen], em[1+hLen:]
	copy(db, emptySHA1[:])
	db[len(db)-len(msg)-1] = 1
	copy(db[len(db)-len(msg):], msg)
	if _, err := io.ReadFull(random, seed); err != nil {
		return nil, err
	}
	mgf1XORSHA1(db, seed)
	mgf1XORSHA1(seed, db)
	m, err := bigmod.NewNat().SetBytes(em, k.n) // em < n: its first byte is zero
	if err != nil {
		return nil, err
	}
	return bigmod.NewNat().ExpShortVarTime(m, k.e, k.n).Bytes(k.n), nil
}

// mgf1XORSHA1 XORs out with MGF1-SHA-1(seed) (RFC 8017, B.2.1).
func mgf1XORSHA1(out, seed []byte) {
	var counter [4]byte
	var digest [sha1.Size]byte
	h := sha1.New()
	for done, i := 0, uint32(0); done < len(out); i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		done += subtle.XORBytes(out[done:], out[done:], h.Sum(digest[:0]))
	}
}

// verifyPKCS1v15SHA256 checks an RSASSA-PKCS1-v1_5 signature over the
// SHA-256 digest hashed (RFC 8017, 8.2.2): the signature, raised to e, must
// be exactly the encoding of the digest.
func (k *preparedPublic) verifyPKCS1v15SHA256(hashed, sig []byte) error {
	if len(hashed) != sha256.Size || len(sig) != k.size {
		return errRSAVerification
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n) // refuses s >= n
	if err != nil {
		return errRSAVerification
	}
	em := bigmod.NewNat().ExpShortVarTime(s, k.e, k.n).Bytes(k.n)
	// EM = 0x00 || 0x01 || 0xff... || 0x00 || DigestInfo || H
	var buf [512]byte // up to RSA-4096 without an allocation
	var w []byte
	if k.size <= len(buf) {
		w = buf[:k.size]
	} else {
		w = make([]byte, k.size)
	}
	t := len(sha256DigestInfo) + sha256.Size
	w[0], w[1] = 0, 1
	for i := 2; i < k.size-t-1; i++ {
		w[i] = 0xff
	}
	w[k.size-t-1] = 0
	copy(w[k.size-t:], sha256DigestInfo)
	copy(w[k.size-sha256.Size:], hashed)
	if subtle.ConstantTimeCompare(em, w) != 1 {
		return errRSAVerification
	}
	return nil
}

package apiv3

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strconv"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
)

// AuthScheme is the scheme of WeChat Pay APIv3's Authorization header.
const AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// Signer signs requests as a merchant: SHA256withRSA (PKCS #1 v1.5) over
// the five-line message (method, request URI, timestamp, nonce, body), with
// the merchant API key.
type Signer struct {
	// MchID is the merchant number.
	MchID string
	// SerialNo is the serial of the merchant API certificate.
	SerialNo string
	// Key is the merchant API private key.
	Key *rsacrypto.PrivateKey
}

// Sign returns the base64 signature of the request described by its parts.
// The message is hashed piece by piece, so the body is not copied.
func (s *Signer) Sign(method, uri string, timestamp int64, nonce string, body []byte) (string, error) {
	sig, err := s.sign(method, uri, timestamp, nonce, body)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func (s *Signer) sign(method, uri string, timestamp int64, nonce string, body []byte) ([]byte, error) {
	var stack [512]byte
	head := append(stack[:0], method...)
	head = append(head, '\n')
	head = append(head, uri...)
	head = append(head, '\n')
	head = strconv.AppendInt(head, timestamp, 10)
	head = append(head, '\n')
	head = append(head, nonce...)
	head = append(head, '\n')
	var digest [sha256.Size]byte
	return s.Key.SignPKCS1v15SHA256(messageDigest(head, body, &digest))
}

// Authorization returns the value of the Authorization header for a request.
func (s *Signer) Authorization(method, uri string, timestamp int64, nonce string, body []byte) (string, error) {
	sig, err := s.sign(method, uri, timestamp, nonce, body)
	if err != nil {
		return "", err
	}
	b := make([]byte, 0, len(AuthScheme)+len(s.MchID)+len(nonce)+base64.StdEncoding.EncodedLen(len(sig))+len(s.SerialNo)+80)
	b = append(b, AuthScheme+` mchid="`...)
	b = append(b, s.MchID...)
	b = append(b, `",nonce_str="`...)
	b = append(b, nonce...)
	b = append(b, `",signature="`...)
	b = base64.StdEncoding.AppendEncode(b, sig)
	b = append(b, `",timestamp="`...)
	b = strconv.AppendInt(b, timestamp, 10)
	b = append(b, `",serial_no="`...)
	b = append(b, s.SerialNo...)
	b = append(b, '"')
	return string(b), nil
}

const nonceAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewNonce returns 32 characters drawn uniformly from [0-9A-Za-z] with a
// cryptographic random source.
func NewNonce() (string, error) {
	return newNonce(rand.Reader)
}

func newNonce(random io.Reader) (string, error) {
	const n = 32
	var out [n]byte
	var buf [64]byte
	filled := 0
	for filled < n {
		if _, err := io.ReadFull(random, buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps every character equally likely.
			if b >= 248 {
				continue
			}
			out[filled] = nonceAlphabet[b%62]
			filled++
			if filled == n {
				break
			}
		}
	}
	return string(out[:]), nil
}

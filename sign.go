package wechatpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
)

// AuthScheme is the scheme of WeChat Pay APIv3's Authorization header.
const AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// RequestSigner signs requests as a merchant: SHA256withRSA (PKCS #1 v1.5)
// over the five-line message of PROTOCOL.md, with the merchant API key.
type RequestSigner struct {
	// MchID is the merchant number.
	MchID string
	// SerialNo is the serial of the merchant API certificate.
	SerialNo string
	// Key is the merchant API private key.
	Key *rsa.PrivateKey
}

// SigningMessage returns the exact bytes WeChat Pay expects a request
// signature over: METHOD, request URI, timestamp, nonce and body, each line
// ending with "\n".
func SigningMessage(method, uri string, timestamp int64, nonce string, body []byte) []byte {
	ts := strconv.FormatInt(timestamp, 10)
	msg := make([]byte, 0, len(method)+len(uri)+len(ts)+len(nonce)+len(body)+5)
	msg = append(msg, method...)
	msg = append(msg, '\n')
	msg = append(msg, uri...)
	msg = append(msg, '\n')
	msg = append(msg, ts...)
	msg = append(msg, '\n')
	msg = append(msg, nonce...)
	msg = append(msg, '\n')
	msg = append(msg, body...)
	msg = append(msg, '\n')
	return msg
}

// Sign returns the base64 signature of the request described by its parts.
// The message is hashed piece by piece, so the body is not copied.
func (s *RequestSigner) Sign(method, uri string, timestamp int64, nonce string, body []byte) (string, error) {
	h := sha256.New()
	var ts [20]byte
	for _, part := range [][]byte{[]byte(method), []byte(uri), strconv.AppendInt(ts[:0], timestamp, 10), []byte(nonce), body} {
		h.Write(part)
		h.Write(newline)
	}
	var digest [sha256.Size]byte
	sig, err := rsa.SignPKCS1v15(nil, s.Key, crypto.SHA256, h.Sum(digest[:0]))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

var newline = []byte{'\n'}

// Authorization returns the value of the Authorization header for a request.
func (s *RequestSigner) Authorization(method, uri string, timestamp int64, nonce string, body []byte) (string, error) {
	sig, err := s.Sign(method, uri, timestamp, nonce, body)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`%s mchid="%s",nonce_str="%s",signature="%s",timestamp="%d",serial_no="%s"`,
		AuthScheme, s.MchID, nonce, sig, timestamp, s.SerialNo), nil
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

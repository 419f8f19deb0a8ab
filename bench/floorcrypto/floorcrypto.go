// Package floorcrypto is the per-request crypto of a presign request, shared
// by the benchmark's floor row (bench, in a process of its own) and its ideal
// row (bench/idealhandler, inside Caddy), so that both do exactly the same
// work: one SHA256withRSA signature over a request-sized message with the
// merchant key, five RSA-OAEP-SHA1 encryptions of the presign request's
// sensitive field values under the WeChat Pay public key, and one
// SHA256withRSA verification of a fixed answer's signature.
//
// The merchant signature goes through internal/rsacrypto's PrivateKey, as
// the module's does: crypto/rsa in the default build, OpenSSL's libcrypto in
// a build with the tag openssl and cgo (the benchmark's OpenSSL floor row;
// Backend says which). The public-key operations stay with crypto/rsa in both
// builds, unprepared: the floor is what a proxy must spend with the standard
// library, which the module's prepared keys undercut.
//
// It also holds the reference presign request both rows are built from.
// It imports no Caddy package, so that the floor process stays bare.
package floorcrypto

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// PresignPath is the path of the reference presign request.
const PresignPath = "/v3/eduschoolpay/contracts/presign"

// PresignBody is the reference presign request (README), in plaintext as a
// legacy app sends it.
var PresignBody = []byte(`{"appid":"wx8888888888888888","openid":"oUpF8uMuAJOM2pxb1Q","plan_id":"101164396123311331",` +
	`"user_id":"20200330tony","school_id":"18260256813396","out_contract_code":"20190806125346",` +
	`"identity":{"real_name":"张三","credential_type":"IDENTITY_CARD","id_card_number":"110101199003071234"},` +
	`"bank_card":{"bank_card_no":"6222021234567890123","phone":"13800138000"}}`)

// SensitiveFields are the fields of PresignBody a proxy encrypts.
var SensitiveFields = []string{
	"identity.real_name", "identity.credential_type", "identity.id_card_number",
	"bank_card.bank_card_no", "bank_card.phone",
}

// Work holds the inputs of the per-request crypto, built once by New; Do
// performs it. A Work is safe for concurrent use: Do only reads it.
type Work struct {
	merchant  *rsacrypto.PrivateKey
	pub       *rsa.PublicKey
	values    [][]byte // the SensitiveFields' values in PresignBody
	msg       []byte   // a request-sized message to sign
	answer    []byte   // an answer's signed message, verified each time
	answerSig []byte
}

// New builds the inputs from a credentials set: it prepares the merchant
// private key (rsacrypto.NewPrivateKey: precomputed in place, and loaded into
// libcrypto in an OpenSSL build), extracts the five field values from PresignBody,
// builds a message as long as the request once its five fields are
// ciphertexts, and signs a fixed answer with the WeChat Pay public key's
// private half.
func New(creds *sandbox.Credentials) (*Work, error) {
	merchant, err := rsacrypto.NewPrivateKey(creds.MerchantPrivateKey)
	if err != nil {
		return nil, err
	}
	w := &Work{merchant: merchant, pub: creds.PublicKey}

	for _, f := range SensitiveFields {
		w.values = append(w.values, []byte(gjson.GetBytes(PresignBody, f).String()))
	}
	// A request-sized message to sign: the body grows by five ciphertexts.
	msg := make([]byte, 0, 2048)
	msg = append(msg, "POST\n"+PresignPath+"\n1700000000\n0123456789ABCDEFGHIJKLMNOPQRSTUV\n"...)
	msg = append(msg, PresignBody...)
	for len(msg) < len(PresignBody)+5*344 {
		msg = append(msg, 'x')
	}
	w.msg = append(msg, '\n')
	// The answer and its signature, verified each time.
	answer := append([]byte("1700000000\n0123456789abcdef0123456789abcdef\n"), upstream.Body...)
	w.answer = append(answer, '\n')
	asum := sha256.Sum256(w.answer)
	sig, err := rsa.SignPKCS1v15(nil, creds.PublicKeyPrivateKey, crypto.SHA256, asum[:])
	if err != nil {
		return nil, err
	}
	w.answerSig = sig
	return w, nil
}

// Backend names the code that makes the merchant signature: "Go crypto/rsa"
// or "OpenSSL" (rsacrypto.PrivateKey.Backend).
func (w *Work) Backend() string { return w.merchant.Backend() }

// Do performs the per-request crypto once: it signs the message, encrypts
// the five values and verifies the answer's signature. It returns the sum of
// the first bytes of the signature and the ciphertexts, for the caller to
// keep so that none of the work can be optimised away.
func (w *Work) Do() (int, error) {
	checksum := 0
	sum := sha256.Sum256(w.msg)
	sig, err := w.merchant.SignPKCS1v15SHA256(sum[:])
	if err != nil {
		return 0, err
	}
	checksum += int(sig[0])
	for _, v := range w.values {
		ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, w.pub, v, nil)
		if err != nil {
			return 0, err
		}
		checksum += int(ct[0])
	}
	vsum := sha256.Sum256(w.answer)
	if err := rsa.VerifyPKCS1v15(w.pub, crypto.SHA256, vsum[:], w.answerSig); err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	return checksum, nil
}

package testkit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Callbacks for the tests are built here without the module's code: the
// envelope is marshalled from a local struct of the documented shape, the
// resource is sealed with crypto/cipher directly, and the signature is made
// by the official SDK (utils.SignSHA256WithRSA) over TIMESTAMP\nNONCE\nBODY\n.

// APIv3Key is the APIv3 key of the test merchant (32 bytes).
const APIv3Key = "Yx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"

// Transaction is a payment result as WeChat Pay documents it.
const Transaction = `{"mchid":"1900000001","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018",` +
	`"transaction_id":"1217752501201407033233368018","trade_type":"JSAPI","trade_state":"SUCCESS",` +
	`"trade_state_desc":"支付成功","bank_type":"CMC","attach":"自定义数据","success_time":"2018-06-08T10:34:56+08:00",` +
	`"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`

// CallbackSpec describes a callback; the zero value
// is a valid TRANSACTION.SUCCESS callback signed by the WeChat Pay public key.
type CallbackSpec struct {
	ID             string // default: a random EV-... id
	EventType      string // default TRANSACTION.SUCCESS
	Plaintext      string // default Transaction
	APIv3Key       string // default APIv3Key
	Nonce          string // default 12 random characters
	AssociatedData string // default "transaction"
	Algorithm      string // default AEAD_AES_256_GCM
	Ciphertext     string // replaces the computed one when set
	RawBody        string // replaces the whole envelope when set (still signed)
	Tamper         func(body []byte) []byte

	SignKey     *rsa.PrivateKey // default: the WeChat Pay public key's private half
	Serial      string          // default: the public key ID
	TimeShift   time.Duration
	Signature   string // replaces the computed signature when set
	SigType     string // default WECHATPAY2-SHA256-RSA2048; "-" leaves it out
	OmitHeaders bool
}

// testEnvelope is the documented shape of a callback body.
type testEnvelope struct {
	ID           string           `json:"id"`
	CreateTime   string           `json:"create_time"`
	ResourceType string           `json:"resource_type"`
	EventType    string           `json:"event_type"`
	Summary      string           `json:"summary"`
	Resource     testResourceJSON `json:"resource"`
}

type testResourceJSON struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// Callback is a callback ready to send.
type Callback struct {
	ID     string
	Header http.Header
	Body   []byte
}

// RandomID returns a notification id of WeChat Pay's shape.
func RandomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "EV-" + hex.EncodeToString(b)
}

// RandomAlnum returns n random characters of [0-9A-Za-z].
func RandomAlnum(n int) string {
	const set = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = set[int(b[i])%len(set)]
	}
	return string(b)
}

// SealResource encrypts plaintext as WeChat Pay does (AES-256-GCM, key =
// APIv3 key bytes, nonce and associated data their strings' bytes).
func SealResource(t testing.TB, key, nonce, ad, plaintext string) string {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), []byte(plaintext), []byte(ad)))
}

// BuildCallback builds the callback s describes.
func BuildCallback(t testing.TB, s CallbackSpec) Callback {
	t.Helper()
	c := Creds()
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.ID, RandomID())
	def(&s.EventType, "TRANSACTION.SUCCESS")
	def(&s.Plaintext, Transaction)
	def(&s.APIv3Key, APIv3Key)
	def(&s.Nonce, RandomAlnum(12))
	def(&s.AssociatedData, "transaction")
	def(&s.Algorithm, testAlgorithm)
	def(&s.Serial, c.PublicKeyID)
	def(&s.SigType, "WECHATPAY2-SHA256-RSA2048")
	if s.SignKey == nil {
		s.SignKey = c.WechatPayKey
	}
	if s.Ciphertext == "" {
		s.Ciphertext = SealResource(t, s.APIv3Key, s.Nonce, s.AssociatedData, s.Plaintext)
		if len(s.Nonce) == 12 && len(s.APIv3Key) == 32 {
			// Sanity check with the SDK's own decryption.
			if got, err := utils.DecryptAES256GCM(s.APIv3Key, s.AssociatedData, s.Nonce, s.Ciphertext); err != nil || got != s.Plaintext {
				t.Fatalf("SDK does not decrypt the test resource: %v", err)
			}
		}
	}
	body := []byte(s.RawBody)
	if s.RawBody == "" {
		var err error
		body, err = json.Marshal(testEnvelope{
			ID: s.ID, CreateTime: "2015-05-20T13:29:35+08:00", ResourceType: "encrypt-resource",
			EventType: s.EventType, Summary: "支付成功",
			Resource: testResourceJSON{OriginalType: "transaction", Algorithm: s.Algorithm,
				Ciphertext: s.Ciphertext, AssociatedData: s.AssociatedData, Nonce: s.Nonce},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", "08F1CALLBACK-TEST-"+s.ID)
	if !s.OmitHeaders {
		SignWechatPay(t, h, s.SignKey, s.Serial, time.Now().Add(s.TimeShift).Unix(), RandomAlnum(32), body, s.Signature)
		if s.SigType != "-" {
			h.Set("Wechatpay-Signature-Type", s.SigType)
		}
	}
	if s.Tamper != nil {
		body = s.Tamper(body)
	}
	return Callback{ID: s.ID, Header: h, Body: body}
}

// testAlgorithm is spelled out here, apart from the module's constant.
const testAlgorithm = "AEAD_AES_256_GCM"

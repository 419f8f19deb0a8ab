package wechatpay

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Callbacks for the tests are built here without the module's code: the
// envelope is marshalled from a local struct of the documented shape, the
// resource is sealed with crypto/cipher directly, and the signature is made
// by the official SDK (utils.SignSHA256WithRSA) over TIMESTAMP\nNONCE\nBODY\n.

// testAPIv3Key is the APIv3 key of the test merchant (32 bytes).
const testAPIv3Key = "Yx7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Gk0Ts"

// testTransaction is a payment result as WeChat Pay documents it.
const testTransaction = `{"mchid":"1900000001","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018",` +
	`"transaction_id":"1217752501201407033233368018","trade_type":"JSAPI","trade_state":"SUCCESS",` +
	`"trade_state_desc":"支付成功","bank_type":"CMC","attach":"自定义数据","success_time":"2018-06-08T10:34:56+08:00",` +
	`"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`

// callbackSpec describes a callback; the zero value (with testCredentials)
// is a valid TRANSACTION.SUCCESS callback signed by the WeChat Pay public key.
type callbackSpec struct {
	id             string // default: a random EV-... id
	eventType      string // default TRANSACTION.SUCCESS
	plaintext      string // default testTransaction
	apiv3Key       string // default testAPIv3Key
	nonce          string // default 12 random characters
	associatedData string // default "transaction"
	algorithm      string // default AEAD_AES_256_GCM
	ciphertext     string // replaces the computed one when set
	rawBody        string // replaces the whole envelope when set (still signed)
	tamper         func(body []byte) []byte

	signKey     *rsa.PrivateKey // default: the WeChat Pay public key's private half
	serial      string          // default: the public key ID
	timeShift   time.Duration
	signature   string // replaces the computed signature when set
	sigType     string // default WECHATPAY2-SHA256-RSA2048; "-" leaves it out
	omitHeaders bool
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

// builtCallback is a callback ready to send.
type builtCallback struct {
	id     string
	header http.Header
	body   []byte
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "EV-" + hex.EncodeToString(b)
}

func randomAlnum(n int) string {
	const set = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = set[int(b[i])%len(set)]
	}
	return string(b)
}

// sealResource encrypts plaintext as WeChat Pay does (AES-256-GCM, key =
// APIv3 key bytes, nonce and associated data their strings' bytes).
func sealResource(t testing.TB, key, nonce, ad, plaintext string) string {
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

func buildCallback(t testing.TB, s callbackSpec) builtCallback {
	t.Helper()
	c := testkit.Creds()
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.id, randomID())
	def(&s.eventType, "TRANSACTION.SUCCESS")
	def(&s.plaintext, testTransaction)
	def(&s.apiv3Key, testAPIv3Key)
	def(&s.nonce, randomAlnum(12))
	def(&s.associatedData, "transaction")
	def(&s.algorithm, testAlgorithm)
	def(&s.serial, c.PublicKeyID)
	def(&s.sigType, "WECHATPAY2-SHA256-RSA2048")
	if s.signKey == nil {
		s.signKey = c.WechatPayKey
	}
	if s.ciphertext == "" {
		s.ciphertext = sealResource(t, s.apiv3Key, s.nonce, s.associatedData, s.plaintext)
		if len(s.nonce) == 12 && len(s.apiv3Key) == 32 {
			// Sanity check with the SDK's own decryption.
			if got, err := utils.DecryptAES256GCM(s.apiv3Key, s.associatedData, s.nonce, s.ciphertext); err != nil || got != s.plaintext {
				t.Fatalf("SDK does not decrypt the test resource: %v", err)
			}
		}
	}
	body := []byte(s.rawBody)
	if s.rawBody == "" {
		var err error
		body, err = json.Marshal(testEnvelope{
			ID: s.id, CreateTime: "2015-05-20T13:29:35+08:00", ResourceType: "encrypt-resource",
			EventType: s.eventType, Summary: "支付成功",
			Resource: testResourceJSON{OriginalType: "transaction", Algorithm: s.algorithm,
				Ciphertext: s.ciphertext, AssociatedData: s.associatedData, Nonce: s.nonce},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", "08F1CALLBACK-TEST-"+s.id)
	if !s.omitHeaders {
		ts := strconv.FormatInt(time.Now().Add(s.timeShift).Unix(), 10)
		nonce := randomAlnum(32)
		sig, err := utils.SignSHA256WithRSA(ts+"\n"+nonce+"\n"+string(body)+"\n", s.signKey)
		if err != nil {
			t.Fatal(err)
		}
		if s.signature != "" {
			sig = s.signature
		}
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", nonce)
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", s.serial)
		if s.sigType != "-" {
			h.Set("Wechatpay-Signature-Type", s.sigType)
		}
	}
	if s.tamper != nil {
		body = s.tamper(body)
	}
	return builtCallback{id: s.id, header: h, body: body}
}

// testAlgorithm is spelled out here, apart from the module's constant.
const testAlgorithm = "AEAD_AES_256_GCM"

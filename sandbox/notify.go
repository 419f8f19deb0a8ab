package sandbox

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample notification events (event_type values) SampleNotification knows.
const (
	// EventTransactionSuccess is a payment result (支付成功通知).
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	// EventRefundSuccess is a refund result (退款成功通知).
	EventRefundSuccess = "REFUND.SUCCESS"
)

// NotificationEvents lists the events SampleNotification builds, sorted.
func NotificationEvents() []string {
	return []string{EventRefundSuccess, EventTransactionSuccess}
}

// Notification is a callback before encryption: the envelope's fields and
// the resource in plaintext.
type Notification struct {
	// ID is the notification id, e.g. EV-2018022511223320873; every resend
	// of one notification carries the same id.
	ID string
	// CreateTime is RFC 3339, e.g. 2015-05-20T13:29:35+08:00.
	CreateTime string
	// EventType is e.g. TRANSACTION.SUCCESS.
	EventType string
	// ResourceType is "encrypt-resource".
	ResourceType string
	// Summary is the human summary, e.g. 支付成功.
	Summary string
	// OriginalType is resource.original_type, e.g. transaction.
	OriginalType string
	// AssociatedData is resource.associated_data, e.g. transaction.
	AssociatedData string
	// Resource is the plaintext resource, a JSON object.
	Resource []byte
}

// SampleNotification returns a realistic notification of the given event
// (see NotificationEvents) for merchant mchid, created at now, with a fresh
// id and order numbers.
func SampleNotification(event, mchid string, now time.Time) (Notification, error) {
	cst := now.In(time.FixedZone("CST", 8*3600))
	stamp := cst.Format(time.RFC3339)
	orderNo := cst.Format("20060102150405") + randomDigits(14)
	transactionID := "4200" + randomDigits(24)
	n := Notification{
		ID:           "EV-" + cst.Format("20060102150405") + randomDigits(7),
		CreateTime:   stamp,
		EventType:    event,
		ResourceType: "encrypt-resource",
	}
	var resource any
	switch event {
	case EventTransactionSuccess:
		n.Summary, n.OriginalType, n.AssociatedData = "支付成功", "transaction", "transaction"
		resource = map[string]any{
			"mchid": mchid, "appid": "wx8888888888888888", "out_trade_no": orderNo,
			"transaction_id": transactionID, "trade_type": "JSAPI", "trade_state": "SUCCESS",
			"trade_state_desc": "支付成功", "bank_type": "CMC", "attach": "", "success_time": stamp,
			"payer":  map[string]any{"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
			"amount": map[string]any{"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
		}
	case EventRefundSuccess:
		n.Summary, n.OriginalType, n.AssociatedData = "退款成功", "refund", "refund"
		resource = map[string]any{
			"mchid": mchid, "out_trade_no": orderNo, "transaction_id": transactionID,
			"out_refund_no": "R" + orderNo, "refund_id": "5030" + randomDigits(25),
			"refund_status": "SUCCESS", "success_time": stamp, "user_received_account": "招商银行信用卡0403",
			"amount": map[string]any{"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100},
		}
	default:
		return Notification{}, fmt.Errorf("unknown notification event %q (known: %s)", event, strings.Join(NotificationEvents(), ", "))
	}
	var err error
	n.Resource, err = marshalNoEscape(resource)
	return n, err
}

// marshalNoEscape is json.Marshal without HTML escaping, as WeChat Pay writes.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// SignedNotification is a callback ready to POST: headers and body.
type SignedNotification struct {
	// Header holds Wechatpay-Timestamp, -Nonce, -Signature, -Serial,
	// -Signature-Type, Request-ID, Content-Type and User-Agent.
	Header http.Header
	// Body is the envelope with the encrypted resource.
	Body []byte
	// Notification is what was encrypted and signed.
	Notification Notification
}

// NotificationEnvelope is the JSON shape of a callback body.
type NotificationEnvelope struct {
	ID           string               `json:"id"`
	CreateTime   string               `json:"create_time"`
	ResourceType string               `json:"resource_type"`
	EventType    string               `json:"event_type"`
	Summary      string               `json:"summary"`
	Resource     NotificationResource `json:"resource"`
}

// NotificationResource is the envelope's encrypted resource.
type NotificationResource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// SignNotification encrypts n's resource with the set's APIv3 key
// (AEAD_AES_256_GCM, a fresh 12-character nonce) and signs the envelope as
// WeChat Pay signs callbacks: SHA256withRSA over TIMESTAMP\nNONCE\nBODY\n
// with the WeChat Pay public key's private half, Wechatpay-Serial = the
// public key ID (or, in a set without one, the platform certificate).
//
// The signature faults of f apply as they do to answers: WrongKey,
// StaleTimestamp, UnknownSerial, ProbeSignature and OmitSignature; Gzip is
// ignored (WeChat Pay does not compress callbacks).
func (c *Credentials) SignNotification(n Notification, now time.Time, f Faults) (*SignedNotification, error) {
	if len(c.APIv3Key) != APIv3KeySize {
		return nil, errors.New("the credentials set has no APIv3 key; run LoadOrGenerateCredentials (or 'caddy wechatpay keygen') to add one")
	}
	serial, key := c.PublicKeyID, c.PublicKeyPrivateKey
	if key == nil {
		serial, key = c.PlatformSerial, c.PlatformPrivateKey
	}
	if key == nil {
		return nil, errors.New("the credentials set has no WeChat Pay private key to sign with")
	}
	nonce := randomNonce(12)
	ct, err := sealAES256GCM([]byte(c.APIv3Key), nonce, n.AssociatedData, n.Resource)
	if err != nil {
		return nil, err
	}
	body, err := marshalNoEscape(NotificationEnvelope{
		ID: n.ID, CreateTime: n.CreateTime, ResourceType: n.ResourceType, EventType: n.EventType, Summary: n.Summary,
		Resource: NotificationResource{OriginalType: n.OriginalType, Algorithm: "AEAD_AES_256_GCM",
			Ciphertext: ct, AssociatedData: n.AssociatedData, Nonce: nonce},
	})
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "caddy-wechatpay-sandbox (WeChat Pay callback simulator)")
	h.Set("Request-ID", randomHex(26))
	if !f.OmitSignature {
		if f.WrongKey {
			if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				return nil, err
			}
		}
		ts := now
		if f.StaleTimestamp {
			ts = now.Add(-staleBy)
		}
		if f.UnknownSerial {
			serial = unknownSerialLike(serial)
		}
		tsText := strconv.FormatInt(ts.Unix(), 10)
		sigNonce := randomNonce(32)
		sig, err := signSHA256WithRSA(key, []byte(tsText+"\n"+sigNonce+"\n"+string(body)+"\n"))
		if err != nil {
			return nil, err
		}
		if f.ProbeSignature {
			sig = ProbeSignaturePrefix + randomNonce(32)
		}
		h.Set("Wechatpay-Timestamp", tsText)
		h.Set("Wechatpay-Nonce", sigNonce)
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", serial)
		h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	}
	return &SignedNotification{Header: h, Body: body, Notification: n}, nil
}

// sealAES256GCM encrypts plaintext as WeChat Pay encrypts callback
// resources; it returns standard base64.
func sealAES256GCM(key []byte, nonce, associatedData string, plaintext []byte) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), plaintext, []byte(associatedData))), nil
}

// OpenNotification decrypts a callback envelope's resource with apiv3Key;
// it lets a test check what a notify route should have forwarded.
func OpenNotification(apiv3Key string, body []byte) ([]byte, error) {
	var env NotificationEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(env.Resource.Ciphertext)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher([]byte(apiv3Key))
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(env.Resource.Nonce) != gcm.NonceSize() {
		return nil, errors.New("resource.nonce is not 12 bytes")
	}
	return gcm.Open(nil, []byte(env.Resource.Nonce), ct, []byte(env.Resource.AssociatedData))
}

// NotifyResult is one callback sent and what its receiver answered.
type NotifyResult struct {
	// Sent is the callback as sent.
	Sent *SignedNotification
	// Status, Header and Body are the receiver's answer (Body capped at
	// 64 KiB).
	Status int
	Header http.Header
	Body   []byte
}

// Acknowledged reports whether WeChat Pay would count the callback as
// delivered: a 2xx answer. Anything else makes WeChat Pay send it again.
func (r *NotifyResult) Acknowledged() bool { return r.Status >= 200 && r.Status <= 299 }

// SendNotification POSTs a signed, encrypted callback to url, as WeChat
// Pay delivers notifications, and returns the answer. A nil client means a
// client with a 10-second timeout that ignores proxy settings.
func SendNotification(ctx context.Context, client *http.Client, url string, sn *SignedNotification) (*NotifyResult, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(sn.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range sn.Header {
		req.Header[k] = slices.Clone(v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	return &NotifyResult{Sent: sn, Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// PresignPath is the endpoint the demo calls: eduschoolpay presign, whose
// identity and bank card fields WeChat Pay requires encrypted.
const PresignPath = "/v3/eduschoolpay/contracts/presign"

// presignBody is the request of the API reference's example, with the
// sensitive fields in plaintext, as a legacy app sends them to the proxy.
const presignBody = `{
  "appid": "wx8888888888888888",
  "openid": "oUpF8uMuAJOM2pxb1Q",
  "plan_id": "101164396123311331",
  "user_id": "20200330tony",
  "school_id": "18260256813396",
  "out_contract_code": "20190806125346",
  "contract_mode": "LIMIT_BANK_CARD",
  "downgrade_default_contract": true,
  "identity": {
    "real_name": "张三",
    "credential_type": "IDENTITY_CARD",
    "id_card_number": "110101199003071234"
  },
  "bank_card": {
    "bank_card_no": "6222021234567890123",
    "valid_thru": "08/21",
    "phone": "13800138000",
    "bank_type": "CMC"
  }
}`

// sensitiveField is one field the proxy must encrypt, with the plaintext
// the app sends.
type sensitiveField struct{ path, plain string }

// presignSensitive lists presignBody's sensitive fields.
var presignSensitive = []sensitiveField{
	{"identity.real_name", "张三"},
	{"identity.credential_type", "IDENTITY_CARD"},
	{"identity.id_card_number", "110101199003071234"},
	{"bank_card.bank_card_no", "6222021234567890123"},
	{"bank_card.phone", "13800138000"},
}

// appAnswer is what the legacy app got back.
type appAnswer struct {
	status int
	header http.Header
	body   []byte
}

// sendPresign posts presignBody to the proxy as a legacy app would: plain
// JSON, no Authorization.
func sendPresign(ctx context.Context, proxyURL string) (*appAnswer, error) {
	return post(ctx, proxyURL+PresignPath, "application/json", []byte(presignBody))
}

// post sends body to url with its Content-Type, as the app does: no
// Authorization, no proxy from the environment, a fresh connection.
func post(ctx context.Context, url, contentType string, body []byte) (*appAnswer, error) {
	return send(ctx, http.MethodPost, url, contentType, body)
}

// send is post for any method; a GET has no body and no Content-Type.
func send(ctx context.Context, method, url, contentType string, body []byte) (*appAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &appAnswer{status: resp.StatusCode, header: resp.Header, body: respBody}, nil
}

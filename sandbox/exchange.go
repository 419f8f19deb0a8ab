package sandbox

import (
	"net/http"
	"time"
)

// Exchange records one request and its answer, for Config.Observer: what
// reached "WeChat Pay", what the sandbox verified and decrypted, and what
// it answered.
type Exchange struct {
	// RequestID is the Request-ID header of the answer.
	RequestID string
	// Time is when the request arrived (Config.Now).
	Time time.Time
	// Method is the request method.
	Method string
	// RequestURI is the request target exactly as received (path + raw query).
	RequestURI string
	// Header holds the received headers, Authorization included.
	Header http.Header
	// Body is the raw received body.
	Body []byte
	// Endpoint is the matched route, e.g.
	// "POST /v3/eduschoolpay/contracts/presign", or "" when none matched.
	Endpoint string
	// Steps lists each check made, in order, with its outcome.
	Steps []Step
	// Decrypted lists the sensitive values decrypted from the request.
	Decrypted []DecryptedField
	// Status is the answer's HTTP status.
	Status int
	// ResponseHeader holds the answer's headers.
	ResponseHeader http.Header
	// ResponseBody is the answer body as signed (before any gzip).
	ResponseBody []byte
	// Invocation is set for the simulated WeChat client's route
	// (ClientRequestPaymentPath) only: the payment sheet invocation it
	// checked and its verdict.
	Invocation *Invocation
	// Form is set for the simulated client's coupon and payscore form
	// routes only (ClientSendCouponPath, ClientH5CouponPath,
	// ClientPayscoreDetailPath): the form checked and its verdict.
	Form *ClientForm
}

// Invocation is a payment sheet invocation object the simulated WeChat
// client checked. Fields the checks did not reach are "".
type Invocation struct {
	// Form is the object's form, told apart by its keys: TradeTypeJSAPI
	// (appId ... paySign, wx.requestPayment) or TradeTypeApp (appid ...
	// sign, the OpenSDK's PayReq).
	Form string
	// PrepayID is the prepay_id the object opens (from package in the
	// JSAPI form, prepayid in the APP form).
	PrepayID string
	// AppID is the object's appId / appid.
	AppID string
	// PartnerID is the APP form's partnerid.
	PartnerID string
	// TradeType is that of the prepay_id as the sandbox issued it, when
	// the sandbox knows it.
	TradeType string
	// Verdict is PaymentOK, or the code of the refusal (PARAM_ERROR,
	// SIGN_INVALID, PREPAY_ID_UNKNOWN...); the failed Step says why.
	Verdict string
}

// Step is one verification step of an Exchange.
type Step struct {
	// Name says what was checked, e.g. "signature" or "decrypt identity.real_name".
	Name string
	// OK is the outcome.
	OK bool
	// Detail explains the outcome; it never holds a secret.
	Detail string
}

// DecryptedField is one sensitive value the sandbox decrypted.
type DecryptedField struct {
	// Location is "body" or "query".
	Location string
	// Path is the concrete gjson path ("identity.real_name",
	// "beneficial_owner.1.beneficial_owner_name") or the query parameter.
	Path string
	// Value is the decrypted plaintext.
	Value string
	// Key is the ID or serial of the key that decrypted it.
	Key string
}

// Field returns the decrypted value at a body path or query parameter.
func (x Exchange) Field(path string) (string, bool) {
	for _, d := range x.Decrypted {
		if d.Path == path {
			return d.Value, true
		}
	}
	return "", false
}

// Failed returns the first failed step, if any.
func (x Exchange) Failed() (Step, bool) {
	for _, s := range x.Steps {
		if !s.OK {
			return s, true
		}
	}
	return Step{}, false
}

func (x *Exchange) step(name string, ok bool, detail string) {
	x.Steps = append(x.Steps, Step{Name: name, OK: ok, Detail: detail})
}

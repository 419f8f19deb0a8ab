package wechatpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// stubWechatPay stands in for api.mch.weixin.qq.com in the tests. It is
// written without the module's code: it rebuilds the signing message from
// the request as received, verifies it with the official SDK's verifier,
// decrypts the sensitive fields with the SDK, and signs its responses with the
// SDK's signer. Every request it receives is recorded for the test to check.
type stubWechatPay struct {
	*httptest.Server
	t     testing.TB
	creds *testkit.Credentials

	mu       sync.Mutex
	received []receivedRequest
	answer   stubResponse
}

// receivedRequest is what reached the stand-in, with its verdicts.
type receivedRequest struct {
	method, uri string
	header      http.Header
	body        []byte
	signatureOK error             // nil when the SDK verified the signature
	decrypted   map[string]string // path -> plaintext, by the SDK
	trailer     http.Header       // the request's trailers
	chunked     bool              // sent with Transfer-Encoding: chunked
}

// stubResponse says how the stand-in answers; the zero value is a correctly
// signed 200 {"presign_token": ...} under the public key.
type stubResponse struct {
	status      int
	body        string
	signKey     *rsa.PrivateKey // default: the WeChat Pay public key's private half
	serial      string          // default: the public key ID
	timeShift   time.Duration
	signature   string // replaces the computed signature when set
	noHeaders   bool
	gzip        bool
	tamperBody  bool          // sign one body, send another
	extraHeader http.Header   // more answer headers (not covered by the signature)
	trailer     http.Header   // trailers announced in a Trailer header, sent after the body
	lateTrailer http.Header   // trailers sent after the body without being announced
	delay       time.Duration // how long to wait before answering
}

var authParamRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

func newStubWechatPay(t testing.TB) *stubWechatPay {
	s := &stubWechatPay{t: t, creds: testkit.Creds()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *stubWechatPay) setResponse(a stubResponse) {
	s.mu.Lock()
	s.answer = a
	s.mu.Unlock()
}

func (s *stubWechatPay) requests() []receivedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedRequest(nil), s.received...)
}

func (s *stubWechatPay) reset() {
	s.mu.Lock()
	s.received = nil
	s.answer = stubResponse{}
	s.mu.Unlock()
}

// checkSignature verifies the request's Authorization like WeChat Pay does.
func (s *stubWechatPay) checkSignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	scheme, params, ok := strings.Cut(auth, " ")
	if !ok || scheme != "WECHATPAY2-SHA256-RSA2048" {
		return fmt.Errorf("bad scheme in %q", scheme)
	}
	p := map[string]string{}
	for _, m := range authParamRE.FindAllStringSubmatch(params, -1) {
		p[m[1]] = m[2]
	}
	merchantKey := map[string]*rsa.PrivateKey{s.creds.SerialNo: s.creds.MerchantKey}[p["serial_no"]]
	if r2 := testkit.RotatedIfMade(); r2 != nil && p["serial_no"] == r2.SerialNo {
		merchantKey = r2.MerchantKey
	}
	if p["mchid"] != s.creds.MchID || merchantKey == nil {
		return fmt.Errorf("mchid/serial_no %q/%q", p["mchid"], p["serial_no"])
	}
	if len(p["nonce_str"]) != 32 {
		return fmt.Errorf("nonce %q", p["nonce_str"])
	}
	ts, err := strconv.ParseInt(p["timestamp"], 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("timestamp %q", p["timestamp"])
	}
	signed, err := testkit.SignedPart(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	message := r.Method + "\n" + r.RequestURI + "\n" + p["timestamp"] + "\n" + p["nonce_str"] + "\n" + string(signed) + "\n"
	v := verifiers.NewSHA256WithRSAPubkeyVerifier("merchant", merchantKey.PublicKey)
	return v.Verify(context.Background(), "merchant", message, p["signature"])
}

func (s *stubWechatPay) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := receivedRequest{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: body,
		decrypted: map[string]string{}, trailer: r.Trailer.Clone(), chunked: slices.Contains(r.TransferEncoding, "chunked")}
	rec.signatureOK = s.checkSignature(r, body)
	key := s.creds.WechatPayKey
	switch r.Header.Get("Wechatpay-Serial") {
	case s.creds.PlatformSerial:
		key = s.creds.PlatformKey
	case rotatedPublicKeyID():
		key = testkit.RotatedIfMade().WechatPayKey
	}
	for _, p := range testkit.PresignFields {
		if v := gjson.GetBytes(body, p); v.Exists() && v.Type == gjson.String {
			plain, err := utils.DecryptOAEP(v.String(), key)
			if err != nil {
				plain = "UNDECRYPTABLE"
			}
			rec.decrypted[p] = plain
		}
	}
	s.mu.Lock()
	s.received = append(s.received, rec)
	a := s.answer
	s.mu.Unlock()
	if a.signKey == nil && r.Header.Get("Wechatpay-Serial") == rotatedPublicKeyID() {
		// Like WeChat Pay, answer under the key the request names.
		a.signKey, a.serial = testkit.RotatedIfMade().WechatPayKey, testkit.RotatedIfMade().PublicKeyID
	}
	time.Sleep(a.delay)
	s.writeResponse(w, a)
}

func (s *stubWechatPay) writeResponse(w http.ResponseWriter, a stubResponse) {
	if a.status == 0 {
		a.status = 200
	}
	if a.body == "" && a.status == 200 {
		a.body = `{"presign_token":"stub_presign_token_0123456789"}`
	}
	if a.signKey == nil {
		a.signKey = s.creds.WechatPayKey
	}
	if a.serial == "" {
		a.serial = s.creds.PublicKeyID
	}
	h := w.Header()
	for k, v := range a.extraHeader {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", "08F1A2B3C4D5E6-TEST")
	if !a.noHeaders {
		ts := strconv.FormatInt(time.Now().Add(a.timeShift).Unix(), 10)
		nonce := "stubnonce0123456789abcdefABCDEF0"
		sig, err := utils.SignSHA256WithRSA(ts+"\n"+nonce+"\n"+a.body+"\n", a.signKey)
		if err != nil {
			s.t.Error(err)
		}
		if a.signature != "" {
			sig = a.signature
		}
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", nonce)
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", a.serial)
	}
	out := []byte(a.body)
	if a.tamperBody {
		out = bytes.Replace(out, []byte("stub"), []byte("EVIL"), 1)
	}
	if a.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(out)
		zw.Close()
		out = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	if len(a.trailer)+len(a.lateTrailer) == 0 {
		h.Set("Content-Length", strconv.Itoa(len(out)))
	}
	for k := range a.trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(a.status)
	w.Write(out)
	for k, v := range a.trailer {
		h[k] = v
	}
	for k, v := range a.lateTrailer {
		h[http.TrailerPrefix+k] = v
	}
}

// rotatedPublicKeyID returns the rotated WeChat Pay key's ID once a test
// made the rotated set, else a value no request carries.
func rotatedPublicKeyID() string {
	if r := testkit.RotatedIfMade(); r != nil {
		return r.PublicKeyID
	}
	return "\x00none"
}

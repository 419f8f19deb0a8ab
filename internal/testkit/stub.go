package testkit

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

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Stub stands in for api.mch.weixin.qq.com in the tests. It is written
// without the module's code: it rebuilds the signing message from the
// request as received, verifies it with the official SDK's verifier,
// decrypts the presign request's sensitive fields with the SDK, and signs
// its responses with the SDK's signer. Every request it receives is recorded
// for the test to check.
type Stub struct {
	*httptest.Server
	t     testing.TB
	creds *Credentials

	mu       sync.Mutex
	received []Received
	response StubResponse
}

// Received is what reached the stand-in, with its verdicts.
type Received struct {
	Method, URI string
	Header      http.Header
	Body        []byte
	SignatureOK error             // nil when the SDK verified the signature
	Decrypted   map[string]string // presign path -> plaintext, by the SDK
	Trailer     http.Header       // the request's trailers
	Chunked     bool              // sent with Transfer-Encoding: chunked
}

// StubResponse says how the stand-in responds; the zero value is a
// correctly signed 200 {"presign_token": ...} under the public key.
type StubResponse struct {
	Status      int
	Body        string
	SignKey     *rsa.PrivateKey // default: the WeChat Pay public key's private half
	Serial      string          // default: the public key ID
	TimeShift   time.Duration
	Signature   string // replaces the computed signature when set
	Nonce       string // replaces the fresh nonce when set
	Timestamp   int64  // replaces now (plus TimeShift) when set
	NoHeaders   bool
	Gzip        bool
	TamperBody  bool          // sign one body, send another
	ExtraHeader http.Header   // more response headers (not covered by the signature)
	Trailer     http.Header   // trailers announced in a Trailer header, sent after the body
	LateTrailer http.Header   // trailers sent after the body without being announced
	Delay       time.Duration // how long to wait before responding
}

// PresignToken is in the body of the stand-in's default response.
const PresignToken = "stub_presign_token_0123456789"

var authParamRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

// NewStub starts a stand-in for the test merchant (Creds), closed when the
// test ends.
func NewStub(t testing.TB) *Stub {
	s := &Stub{t: t, creds: Creds()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetResponse sets how the following requests are responded to.
func (s *Stub) SetResponse(r StubResponse) {
	s.mu.Lock()
	s.response = r
	s.mu.Unlock()
}

// Requests returns the requests received so far.
func (s *Stub) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Reset forgets the requests received and the response set.
func (s *Stub) Reset() {
	s.mu.Lock()
	s.received = nil
	s.response = StubResponse{}
	s.mu.Unlock()
}

// CheckSignature verifies the request's Authorization like WeChat Pay does,
// over body (as received).
func (s *Stub) CheckSignature(r *http.Request, body []byte) error {
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
	if r2 := RotatedIfMade(); r2 != nil && p["serial_no"] == r2.SerialNo {
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
	signed, err := SignedPart(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	message := r.Method + "\n" + r.RequestURI + "\n" + p["timestamp"] + "\n" + p["nonce_str"] + "\n" + string(signed) + "\n"
	v := verifiers.NewSHA256WithRSAPubkeyVerifier("merchant", merchantKey.PublicKey)
	return v.Verify(context.Background(), "merchant", message, p["signature"])
}

// rotatedPublicKeyID returns the rotated WeChat Pay key's ID once a test
// made the rotated set, else a value no request carries.
func rotatedPublicKeyID() string {
	if r := RotatedIfMade(); r != nil {
		return r.PublicKeyID
	}
	return "\x00none"
}

func (s *Stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Received{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body,
		Decrypted: map[string]string{}, Trailer: r.Trailer.Clone(), Chunked: slices.Contains(r.TransferEncoding, "chunked")}
	rec.SignatureOK = s.CheckSignature(r, body)
	key := s.creds.WechatPayKey
	switch r.Header.Get("Wechatpay-Serial") {
	case s.creds.PlatformSerial:
		key = s.creds.PlatformKey
	case rotatedPublicKeyID():
		key = RotatedIfMade().WechatPayKey
	}
	for _, p := range PresignFields {
		if v := gjson.GetBytes(body, p); v.Exists() && v.Type == gjson.String {
			plain, err := utils.DecryptOAEP(v.String(), key)
			if err != nil {
				plain = "UNDECRYPTABLE"
			}
			rec.Decrypted[p] = plain
		}
	}
	s.mu.Lock()
	s.received = append(s.received, rec)
	a := s.response
	s.mu.Unlock()
	if a.SignKey == nil && r.Header.Get("Wechatpay-Serial") == rotatedPublicKeyID() {
		// Like WeChat Pay, respond under the key the request names.
		a.SignKey, a.Serial = RotatedIfMade().WechatPayKey, RotatedIfMade().PublicKeyID
	}
	time.Sleep(a.Delay)
	s.write(w, a)
}

func (s *Stub) write(w http.ResponseWriter, a StubResponse) {
	if a.Status == 0 {
		a.Status = 200
	}
	if a.Body == "" && a.Status == 200 {
		a.Body = `{"presign_token":"` + PresignToken + `"}`
	}
	if a.SignKey == nil {
		a.SignKey = s.creds.WechatPayKey
	}
	if a.Serial == "" {
		a.Serial = s.creds.PublicKeyID
	}
	h := w.Header()
	for k, v := range a.ExtraHeader {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", "08F1A2B3C4D5E6-TEST")
	if !a.NoHeaders {
		ts := time.Now().Add(a.TimeShift).Unix()
		if a.Timestamp != 0 {
			ts = a.Timestamp
		}
		nonce := RandomAlnum(32) // a fresh nonce, as WeChat Pay signs every response anew
		if a.Nonce != "" {
			nonce = a.Nonce
		}
		SignWechatPay(s.t, h, a.SignKey, a.Serial, ts, nonce, []byte(a.Body), a.Signature)
	}
	out := []byte(a.Body)
	if a.TamperBody {
		out = bytes.Replace(out, []byte("stub"), []byte("EVIL"), 1)
	}
	if a.Gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(out)
		zw.Close()
		out = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	if len(a.Trailer)+len(a.LateTrailer) == 0 {
		h.Set("Content-Length", strconv.Itoa(len(out)))
	}
	for k := range a.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(a.Status)
	w.Write(out)
	for k, v := range a.Trailer {
		h[k] = v
	}
	for k, v := range a.LateTrailer {
		h[http.TrailerPrefix+k] = v
	}
}

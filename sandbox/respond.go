package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ProbeSignaturePrefix starts the probe signatures WeChat Pay sometimes
// sends; they must fail verification.
const ProbeSignaturePrefix = "WECHATPAY/SIGNTEST/"

// staleBy is how old Faults.StaleTimestamp makes an answer.
const staleBy = 10 * time.Minute

// answer is a response before signing.
type answer struct {
	status      int
	body        []byte
	contentType string // application/json when empty
	unsigned    bool   // binary downloads are not signed
	// unsignedNote explains an unsigned answer in its Exchange; "" means
	// a download, unsigned as WeChat Pay sends them.
	unsignedNote string
	code         string // error code, for the log
}

// apiError is WeChat Pay's error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func errorAnswer(status int, code, message string, detail any) *answer {
	body, _ := json.Marshal(apiError{Code: code, Message: message, Detail: detail})
	return &answer{status: status, body: body, code: code}
}

// paramError builds a 400 PARAM_ERROR answer; detail may be nil.
func paramError(message string, detail any) *answer {
	return errorAnswer(http.StatusBadRequest, "PARAM_ERROR", message, detail)
}

// fieldDetail is the detail of a PARAM_ERROR about one field.
func fieldDetail(location, field, issue string) map[string]any {
	return map[string]any{"location": location, "field": field, "value": "", "issue": issue}
}

func jsonAnswer(status int, v any) *answer {
	body, err := json.Marshal(v)
	if err != nil {
		return errorAnswer(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误", nil)
	}
	return &answer{status: status, body: body}
}

// signingKey picks the key that signs the answer to r.
func (s *Server) signingKey(r *http.Request) (serial string, key *rsa.PrivateKey) {
	pub := func() (string, *rsa.PrivateKey) { return s.cfg.PublicKeyID, s.cfg.PublicKeyPrivateKey }
	plat := func() (string, *rsa.PrivateKey) {
		// The newest certificate in service: after a rotation, the new one.
		if p, ok := s.newestPlatform(); ok {
			return p.serial, p.key
		}
		return s.platformSerial, s.cfg.PlatformPrivateKey
	}
	switch s.cfg.SignWith {
	case SignWithPublicKey:
		return pub()
	case SignWithPlatformCertificate:
		return plat()
	}
	if name, k := s.keyNamed(r.Header.Get("Wechatpay-Serial")); k != nil {
		return name, k
	}
	// The certificate list is signed with a platform certificate, so that
	// a first download can be checked against the certificates it carries.
	if r.URL.Path == CertificatesPath && !s.publicKeyOnly() {
		if _, ok := s.newestPlatform(); ok {
			return plat()
		}
	}
	if s.cfg.PublicKeyPrivateKey != nil {
		return pub()
	}
	return plat()
}

// keyNamed returns the private key a Wechatpay-Serial value names, or nil.
func (s *Server) keyNamed(serial string) (string, *rsa.PrivateKey) {
	switch {
	case serial == "":
		return "", nil
	case serial == s.cfg.PublicKeyID && s.cfg.PublicKeyPrivateKey != nil:
		return serial, s.cfg.PublicKeyPrivateKey
	case serial == s.platformSerial && s.cfg.PlatformPrivateKey != nil:
		return serial, s.cfg.PlatformPrivateKey
	}
	if k := s.platformNamed(serial); k != nil { // a rotated certificate
		return serial, k
	}
	return "", nil
}

// signAnswer sets the Wechatpay-* headers over body, applying the faults.
func (s *Server) signAnswer(h http.Header, r *http.Request, body []byte, now time.Time, f Faults, x *Exchange) {
	if f.OmitSignature {
		x.step("answer signature", true, "fault OmitSignature: no Wechatpay-* signature headers")
		return
	}
	serial, key := s.signingKey(r)
	note := ""
	if f.WrongKey {
		key, note = s.wrongKey(), note+" [fault WrongKey: signed with an unknown key]"
	}
	ts := now
	if f.StaleTimestamp {
		ts, note = now.Add(-staleBy), note+" [fault StaleTimestamp: dated 10 minutes ago]"
	}
	if f.UnknownSerial {
		serial, note = unknownSerialLike(serial), note+" [fault UnknownSerial]"
	}
	nonce := randomNonce(32)
	tsText := strconv.FormatInt(ts.Unix(), 10)
	message := []byte(tsText + "\n" + nonce + "\n" + string(body) + "\n")
	sig, err := signSHA256WithRSA(key, message)
	if err != nil {
		sig = ""
	}
	if f.ProbeSignature {
		sig, note = ProbeSignaturePrefix+randomNonce(32), note+" [fault ProbeSignature]"
	}
	h.Set("Wechatpay-Timestamp", tsText)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	x.step("answer signature", err == nil, "SHA256withRSA, Wechatpay-Serial "+serial+note)
}

// unknownSerialLike makes up a key name of the same kind nobody knows.
func unknownSerialLike(serial string) string {
	if strings.HasPrefix(serial, PublicKeyIDPrefix) {
		return PublicKeyIDPrefix + "0199" + randomDigits(24)
	}
	return "7" + randomHex(20)[1:]
}

// finish signs and writes the answer, after telling the observer and the log.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, a *answer, x *Exchange, now time.Time) {
	f := s.Faults()
	h := w.Header()
	h.Set("Request-ID", x.RequestID)
	h.Set("Date", now.UTC().Format(http.TimeFormat)) // WeChat Pay's clock, as Config.Now sets it
	ct := a.contentType
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	if a.unsigned {
		note := a.unsignedNote
		if note == "" {
			note = "unsigned, as WeChat Pay sends downloads"
		}
		x.step("answer signature", true, note)
	} else {
		s.signAnswer(h, r, a.body, now, f, x)
	}
	payload := a.body
	if f.Gzip && a.status != http.StatusNoContent {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		payload = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
		x.step("answer encoding", true, "fault Gzip: Content-Encoding gzip, signature over the decoded body")
	}
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	x.Status, x.ResponseHeader, x.ResponseBody = a.status, h.Clone(), a.body
	if s.cfg.Observer != nil {
		s.cfg.Observer(*x)
	}
	if s.cfg.Logger != nil {
		s.cfg.Logger.Info("sandbox request", "method", r.Method, "path", r.URL.Path,
			"status", a.status, "code", a.code, "request_id", x.RequestID)
	}
	w.WriteHeader(a.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(payload)
	}
}

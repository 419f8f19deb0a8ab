package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// MaxBodyBytes caps request bodies; larger ones answer 413.
const MaxBodyBytes = 8 << 20

// Server is the WeChat Pay stand-in: an http.Handler answering like
// api.mch.weixin.qq.com. It is safe for concurrent use.
type Server struct {
	cfg            Config
	now            func() time.Time
	merchantSerial string
	platformSerial string
	nonces         nonceCache
	prepays        prepayStore // issued prepay_ids, for the client route
	edu            eduState    // the 校园轻松付 day: contracts, orders, refunds

	mu     sync.RWMutex
	faults Faults

	wrongOnce sync.Once
	wrong     *rsa.PrivateKey

	certs certificateState // GET /v3/certificates
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sandbox config: %w", err)
	}
	s := &Server{
		cfg:            cfg,
		now:            cfg.Now,
		merchantSerial: CertificateSerial(cfg.MerchantCertificate),
		platformSerial: CertificateSerial(cfg.PlatformCertificate),
		faults:         cfg.Faults,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.APIv3Key != "" {
		if err := s.SetAPIv3Key(cfg.APIv3Key); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SetFaults replaces the answer faults; it takes effect for the next request.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the answer faults in effect.
func (s *Server) Faults() Faults {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.faults
}

// MerchantSerial returns the merchant certificate serial the server expects
// in Authorization serial_no.
func (s *Server) MerchantSerial() string { return s.merchantSerial }

// PlatformSerial returns the platform certificate serial, or "" when none
// is configured.
func (s *Server) PlatformSerial() string { return s.platformSerial }

// wrongKey returns a key nobody else knows, made on first use.
func (s *Server) wrongKey() *rsa.PrivateKey {
	s.wrongOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("sandbox: generating the WrongKey fault key: " + err.Error())
		}
		s.wrong = k
	})
	return s.wrong
}

// ServeHTTP answers one request as WeChat Pay would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	x := &Exchange{
		RequestID:  randomHex(26),
		Time:       now,
		Method:     r.Method,
		RequestURI: requestURI(r),
		Header:     r.Header.Clone(),
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	x.Body = body
	var a *answer
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		x.step("body", false, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes))
		a = errorAnswer(http.StatusRequestEntityTooLarge, "PARAM_ERROR", "请求体过大", nil)
	case err != nil:
		x.step("body", false, "reading the body failed")
		a = paramError("读取请求体失败", nil)
	default:
		a = s.handle(r, body, x, now)
	}
	s.finish(w, r, a, x, now)
}

// handle runs the checks and the endpoint; it returns the answer to sign.
func (s *Server) handle(r *http.Request, body []byte, x *Exchange, now time.Time) *answer {
	if r.URL.Path == ClientRequestPaymentPath {
		// The payer's WeChat, not the merchant: no User-Agent or
		// Authorization checks.
		return s.requestPayment(r, body, x, now)
	}
	if r.URL.Path == ContractSignPath {
		return s.signContract(r, body, x) // the user's mini program, likewise
	}
	if check := clientForms[r.URL.Path]; check != nil {
		return s.clientForm(r, body, x, now, check)
	}
	if r.UserAgent() == "" {
		x.step("user-agent", false, "missing User-Agent header")
		return paramError("Http头缺少User-Agent", fieldDetail("header", "User-Agent", "missing"))
	}
	x.step("user-agent", true, r.UserAgent())
	form, a := s.authenticate(r, body, x, now)
	if a != nil {
		return a
	}
	rt, ok := s.route(r)
	if !ok {
		if e, documented := DocumentedEndpoint(r.Method, r.URL.Path); documented {
			return notSimulated(x, e)
		}
		x.step("endpoint", false, "no such endpoint in the sandbox")
		return errorAnswer(http.StatusNotFound, "NOT_FOUND", "请求的接口不存在，请检查请求方法和URL", nil)
	}
	x.Endpoint = rt.ep.Method + " " + rt.ep.Path
	x.step("endpoint", true, x.Endpoint)
	switch {
	case rt.formData && form == nil:
		x.step("content-type", false, fmt.Sprintf("%q: this endpoint takes multipart/form-data", r.Header.Get("Content-Type")))
		return paramError("请求的Content-Type应为multipart/form-data", fieldDetail("header", "Content-Type", "must be multipart/form-data"))
	case !rt.formData && form != nil:
		x.step("content-type", false, "multipart/form-data: only the media upload endpoints take it, this one takes JSON")
		return paramError("该接口不支持multipart/form-data，请求体应为JSON", fieldDetail("header", "Content-Type", "multipart/form-data not accepted"))
	case form != nil:
		x.step("content-type", true, "multipart/form-data")
	case hasBody(r.Method) && (len(body) > 0 || !rt.bodyless):
		if !json.Valid(body) {
			x.step("json body", false, "body is not valid JSON")
			return paramError("请求体不是合法的JSON", fieldDetail("body", "", "body is not valid JSON"))
		}
		x.step("json body", true, fmt.Sprintf("%d bytes of valid JSON", len(body)))
	}
	req := &request{r: r, body: body, x: x, ep: rt.ep, params: rt.params, form: form}
	if rt.ep.HasSensitiveRequest() {
		name, key := s.keyNamed(r.Header.Get("Wechatpay-Serial"))
		switch {
		case r.Header.Get("Wechatpay-Serial") == "":
			x.step("wechatpay-serial", false, "missing Wechatpay-Serial header")
			return paramError("HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)", fieldDetail("header", "Wechatpay-Serial", "missing"))
		case key == nil:
			x.step("wechatpay-serial", false, "Wechatpay-Serial "+r.Header.Get("Wechatpay-Serial")+" names no key of the sandbox")
			return paramError("HTTP header中的微信支付平台证书序列号(Wechatpay-Serial)无效", fieldDetail("header", "Wechatpay-Serial", "unknown serial"))
		}
		x.step("wechatpay-serial", true, name)
		req.keyName, req.key = name, key
	}
	if rt.validate != nil {
		if a := rt.validate(req); a != nil {
			return a
		}
	}
	if a := s.decryptRequest(req); a != nil {
		return a
	}
	return rt.handle(s, req)
}

// decryptRequest decrypts the endpoint's sensitive body fields and query
// parameters into req.x.Decrypted.
func (s *Server) decryptRequest(req *request) *answer {
	if req.key == nil {
		return nil
	}
	fromBody, fe := decryptBody(req.body, req.ep.RequestBody, req.key, req.keyName)
	if fe == nil {
		var fromQuery []DecryptedField
		fromQuery, fe = decryptQuery(req.r.URL.RawQuery, req.ep.RequestQuery, req.key, req.keyName)
		fromBody = append(fromBody, fromQuery...)
	}
	for _, d := range fromBody {
		req.x.step("decrypt "+d.Path, true, fmt.Sprintf("%s, %d bytes, key %s", d.Location, len(d.Value), d.Key))
	}
	req.x.Decrypted = fromBody
	if fe != nil {
		req.x.step("decrypt "+fe.path, false, fe.location+": "+fe.issue)
		return paramError(fmt.Sprintf("敏感信息字段%s解密失败，请使用微信支付公钥或平台证书加密（RSA-OAEP）", fe.path),
			fieldDetail(fe.location, fe.path, fe.issue))
	}
	return nil
}

// hasBody reports whether requests with this method carry a JSON body.
func hasBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// CertificatesPath lists the merchant's platform certificates (GET), each
// encrypted with AES-256-GCM under the APIv3 key.
const CertificatesPath = "/v3/certificates"

// certificateAssociatedData is what WeChat Pay puts in associated_data of
// each encrypt_certificate.
const certificateAssociatedData = "certificate"

// chinaZone is China Standard Time, the zone WeChat Pay writes its times in:
// a certificate's effective_time and expire_time, a prepay_id's issue time.
var chinaZone = time.FixedZone("CST", 8*60*60)

// platformKey is a platform certificate with its private key.
type platformKey struct {
	serial string
	cert   *x509.Certificate
	key    *rsa.PrivateKey
}

// certificateState is what GET /v3/certificates serves, beside Config's
// platform certificate: certificates added by rotation, retired ones, the
// APIv3 key and the public-key-only switch.
type certificateState struct {
	mu            sync.RWMutex
	apiv3Key      []byte
	rotated       []platformKey // oldest first
	retired       map[string]bool
	publicKeyOnly bool
}

// SetAPIv3Key sets the merchant's APIv3 key, which encrypts the
// certificates GET /v3/certificates serves; without one that endpoint
// answers 500. The key must be 32 bytes.
func (s *Server) SetAPIv3Key(key string) error {
	if len(key) != APIv3KeySize {
		return fmt.Errorf("sandbox: the APIv3 key must be %d bytes, got %d", APIv3KeySize, len(key))
	}
	s.certs.mu.Lock()
	s.certs.apiv3Key = []byte(key)
	s.certs.mu.Unlock()
	return nil
}

// SetPublicKeyOnly makes GET /v3/certificates answer 404
// RESOURCE_NOT_EXISTS, as WeChat Pay does for a merchant that has only the
// WeChat Pay public key (also the case when no platform certificate is
// configured at all).
func (s *Server) SetPublicKeyOnly(on bool) {
	s.certs.mu.Lock()
	s.certs.publicKeyOnly = on
	s.certs.mu.Unlock()
}

// RotatePlatformCertificate issues a new platform certificate valid from
// now for validity (5 years when 0), as WeChat Pay does before the current
// one expires. From then on the new certificate signs answers that name no
// key, and both are listed by GET /v3/certificates until the old one is
// retired. It returns the new certificate.
func (s *Server) RotatePlatformCertificate(validity time.Duration) (*x509.Certificate, error) {
	if validity <= 0 {
		validity = certValidity
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := s.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         "Tenpay.com sandbox platform certificate (rotated)",
			Organization:       []string{"THROWAWAY SANDBOX - NOT FOR PRODUCTION"},
			OrganizationalUnit: []string{"caddy-wechatpay sandbox"},
			Country:            []string{"CN"},
		},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	s.certs.mu.Lock()
	s.certs.rotated = append(s.certs.rotated, platformKey{serial: CertificateSerial(cert), cert: cert, key: key})
	s.certs.mu.Unlock()
	return cert, nil
}

// RetirePlatformCertificate stops listing and signing with the platform
// certificate of that serial, as WeChat Pay does after a rotation.
func (s *Server) RetirePlatformCertificate(serial string) {
	s.certs.mu.Lock()
	if s.certs.retired == nil {
		s.certs.retired = map[string]bool{}
	}
	s.certs.retired[serial] = true
	s.certs.mu.Unlock()
}

// PlatformCertificates returns the platform certificates in service, oldest
// first: those GET /v3/certificates lists.
func (s *Server) PlatformCertificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, p := range s.platformKeys() {
		out = append(out, p.cert)
	}
	return out
}

// platformKeys returns the platform certificates in service, oldest first.
func (s *Server) platformKeys() []platformKey {
	s.certs.mu.RLock()
	defer s.certs.mu.RUnlock()
	var out []platformKey
	if s.cfg.PlatformCertificate != nil && s.cfg.PlatformPrivateKey != nil && !s.certs.retired[s.platformSerial] {
		out = append(out, platformKey{serial: s.platformSerial, cert: s.cfg.PlatformCertificate, key: s.cfg.PlatformPrivateKey})
	}
	for _, p := range s.certs.rotated {
		if !s.certs.retired[p.serial] {
			out = append(out, p)
		}
	}
	return out
}

// newestPlatform returns the newest platform certificate in service, the
// one that signs when no key is named; ok is false when there is none.
func (s *Server) newestPlatform() (platformKey, bool) {
	keys := s.platformKeys()
	if len(keys) == 0 {
		return platformKey{}, false
	}
	return keys[len(keys)-1], true
}

// platformNamed returns the private key of the platform certificate in
// service with that serial, or nil.
func (s *Server) platformNamed(serial string) *rsa.PrivateKey {
	for _, p := range s.platformKeys() {
		if p.serial == serial {
			return p.key
		}
	}
	return nil
}

// encryptedCertificate is one entry of the certificate list.
type encryptedCertificate struct {
	SerialNo           string              `json:"serial_no"`
	EffectiveTime      string              `json:"effective_time"`
	ExpireTime         string              `json:"expire_time"`
	EncryptCertificate certificateEnvelope `json:"encrypt_certificate"`
}

// certificateEnvelope is WeChat Pay's AEAD_AES_256_GCM envelope.
type certificateEnvelope struct {
	Algorithm      string `json:"algorithm"`
	Nonce          string `json:"nonce"`
	AssociatedData string `json:"associated_data"`
	Ciphertext     string `json:"ciphertext"`
}

// certificates answers GET /v3/certificates: every platform certificate in
// service, encrypted under the APIv3 key, or 404 RESOURCE_NOT_EXISTS for a
// merchant with only the public key.
func (s *Server) certificates(req *request) *answer {
	s.certs.mu.RLock()
	key, pubOnly := s.certs.apiv3Key, s.certs.publicKeyOnly
	s.certs.mu.RUnlock()
	keys := s.platformKeys()
	if pubOnly || len(keys) == 0 {
		req.x.step("answer", true, "no platform certificate: the merchant uses the public key (404 RESOURCE_NOT_EXISTS)")
		return errorAnswer(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥", nil)
	}
	if key == nil {
		req.x.step("answer", false, "no APIv3 key is set (Server.SetAPIv3Key)")
		return errorAnswer(http.StatusInternalServerError, "SYSTEM_ERROR", "sandbox: no APIv3 key is set", nil)
	}
	data := make([]encryptedCertificate, 0, len(keys))
	for _, p := range keys {
		nonce := randomNonce(12)
		plain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
		ct, err := sealAES256GCM(key, nonce, certificateAssociatedData, plain)
		if err != nil {
			return errorAnswer(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误", nil)
		}
		data = append(data, encryptedCertificate{
			SerialNo:      p.serial,
			EffectiveTime: p.cert.NotBefore.In(chinaZone).Format(time.RFC3339),
			ExpireTime:    p.cert.NotAfter.In(chinaZone).Format(time.RFC3339),
			EncryptCertificate: certificateEnvelope{
				Algorithm: "AEAD_AES_256_GCM", Nonce: nonce,
				AssociatedData: certificateAssociatedData, Ciphertext: ct,
			},
		})
	}
	req.x.step("answer", true, fmt.Sprintf("%d platform certificates, AES-256-GCM under the APIv3 key", len(data)))
	return jsonAnswer(http.StatusOK, map[string]any{"data": data})
}

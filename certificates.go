package wechatpay

import (
	"context"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/pemkey"
)

// CertificatesPath is the WeChat Pay endpoint that lists a merchant's
// platform certificates (下载平台证书).
const CertificatesPath = "/v3/certificates"

// CodeResourceNotExists is WeChat Pay's answer code to CertificatesPath for
// a merchant that has only the WeChat Pay public key: there is nothing to
// download, which is normal.
const CodeResourceNotExists = "RESOURCE_NOT_EXISTS"

// maxCertificatesAnswer caps the certificate list answer.
const maxCertificatesAnswer = 1 << 20

// PlatformCertificate is a WeChat Pay platform certificate as downloaded
// and kept: the certificate, its serial and validity.
type PlatformCertificate struct {
	// Serial is the certificate serial, upper-case hex.
	Serial string
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
	// PEM is the certificate in PEM form.
	PEM string
}

// NotBefore is when the certificate becomes valid.
func (c *PlatformCertificate) NotBefore() time.Time { return c.Certificate.NotBefore }

// NotAfter is when the certificate expires.
func (c *PlatformCertificate) NotAfter() time.Time { return c.Certificate.NotAfter }

// key returns the certificate's RSA public key.
func (c *PlatformCertificate) key() *rsa.PublicKey { return c.Certificate.PublicKey.(*rsa.PublicKey) }

// errCertificatesNotFound is WeChat Pay's 404 RESOURCE_NOT_EXISTS: the
// merchant has no platform certificate (public key only).
var errCertificatesNotFound = errors.New("WeChat Pay has no platform certificate for this merchant (404 " + CodeResourceNotExists + "): it uses the WeChat Pay public key")

// certificateAnswer is the JSON of a CertificatesPath answer.
type certificateAnswer struct {
	Data []struct {
		SerialNo           string `json:"serial_no"`
		EffectiveTime      string `json:"effective_time"`
		ExpireTime         string `json:"expire_time"`
		EncryptCertificate struct {
			Algorithm      string `json:"algorithm"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
			Ciphertext     string `json:"ciphertext"`
		} `json:"encrypt_certificate"`
	} `json:"data"`
}

// certificateDownload is one call of CertificatesPath.
type certificateDownload struct {
	client *http.Client
	url    string // base URL + CertificatesPath
	signer *apiv3.Signer
	aead   cipher.AEAD      // AES-256-GCM under the APIv3 key
	now    func() time.Time // for certificate validity; signatures use the real clock
	// anchors, when not empty, are the only keys the answer's signature
	// may verify with (the configured public key). When empty, the
	// answer must verify with a certificate it carries or one of known.
	anchors map[string]*rsa.PublicKey
	// known are certificates trusted before this download.
	known []*PlatformCertificate
	// serial is sent as Wechatpay-Serial, naming the key WeChat Pay
	// should sign the answer with; may be empty.
	serial string
}

// run downloads, decrypts and verifies the merchant's platform
// certificates. It returns the unexpired ones, newest first, or
// errCertificatesNotFound.
func (d *certificateDownload) run(ctx context.Context) ([]*PlatformCertificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return nil, err
	}
	nonce, err := apiv3.NewNonce()
	if err != nil {
		return nil, err
	}
	auth, err := d.signer.Authorization(http.MethodGet, req.URL.RequestURI(), time.Now().Unix(), nonce, nil)
	if err != nil {
		return nil, fmt.Errorf("signing the request: %w", err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent())
	if d.serial != "" {
		req.Header.Set("Wechatpay-Serial", d.serial)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCertificatesAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxCertificatesAnswer {
		return nil, errors.New("the answer is larger than 1 MiB")
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusNotFound && e.Code == CodeResourceNotExists {
			return nil, errCertificatesNotFound
		}
		return nil, fmt.Errorf("WeChat Pay answered %d %s%s (Request-ID %s)", resp.StatusCode, e.Code,
			shortMessage(e.Message), resp.Header.Get("Request-ID"))
	}
	certs, err := d.decrypt(body)
	if err != nil {
		return nil, err
	}
	if err := d.verify(resp.Header, body, certs); err != nil {
		return nil, err
	}
	return certs, nil
}

// shortMessage formats WeChat Pay's error message for a log line.
func shortMessage(m string) string {
	if m == "" {
		return ""
	}
	if len(m) > 200 {
		m = m[:200] + "…"
	}
	return ": " + strconv.Quote(m)
}

// decrypt decrypts and checks each certificate of the answer: AES-256-GCM
// under the APIv3 key (which authenticates it as WeChat Pay's), an RSA
// certificate whose serial is the one listed. Expired certificates are
// left out; none left is an error.
func (d *certificateDownload) decrypt(body []byte) ([]*PlatformCertificate, error) {
	var a certificateAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("the answer is not the certificate list: %w", err)
	}
	now := d.now()
	var out []*PlatformCertificate
	for i, item := range a.Data {
		ec := item.EncryptCertificate
		where := fmt.Sprintf("certificate #%d (serial %s)", i+1, item.SerialNo)
		if ec.Algorithm != "AEAD_AES_256_GCM" {
			return nil, fmt.Errorf("%s: algorithm %q, want AEAD_AES_256_GCM", where, ec.Algorithm)
		}
		ct, err := base64.StdEncoding.DecodeString(ec.Ciphertext)
		if err != nil {
			return nil, fmt.Errorf("%s: ciphertext is not base64", where)
		}
		if len(ec.Nonce) != d.aead.NonceSize() {
			return nil, fmt.Errorf("%s: nonce is %d bytes, want %d", where, len(ec.Nonce), d.aead.NonceSize())
		}
		plain, err := d.aead.Open(nil, []byte(ec.Nonce), ct, []byte(ec.AssociatedData))
		if err != nil {
			return nil, fmt.Errorf("%s: does not decrypt with the APIv3 key (is apiv3_key the one set in the merchant platform?)", where)
		}
		pc, err := parsePlatformCertificate(plain)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if pc.Serial != strings.ToUpper(item.SerialNo) {
			return nil, fmt.Errorf("%s: the certificate's own serial is %s", where, pc.Serial)
		}
		if !now.Before(pc.NotAfter()) {
			continue
		}
		out = append(out, pc)
	}
	if len(out) == 0 {
		return nil, errors.New("the answer holds no unexpired platform certificate")
	}
	sortNewestFirst(out)
	return out, nil
}

// verify checks the answer's signature: with the anchors when there are
// any, else with a certificate of the answer or one already trusted.
func (d *certificateDownload) verify(header http.Header, body []byte, certs []*PlatformCertificate) error {
	keys := d.anchors
	if len(keys) == 0 {
		keys = map[string]*rsa.PublicKey{}
		for _, c := range append(append([]*PlatformCertificate(nil), d.known...), certs...) {
			keys[c.Serial] = c.key()
		}
	}
	v := apiv3.NewVerifier(keys)
	if err := v.Verify(header, body); err != nil {
		ve := err.(*apiv3.VerifyError)
		return fmt.Errorf("the answer's signature does not verify: %s: %s (Wechatpay-Serial %q)", ve.Code, ve.Reason, ve.Serial)
	}
	return nil
}

// parsePlatformCertificate parses a decrypted (or stored) certificate PEM.
func parsePlatformCertificate(data []byte) (*PlatformCertificate, error) {
	cert, serial, err := pemkey.ParseCertificate(data)
	if err != nil {
		return nil, err
	}
	return &PlatformCertificate{
		Serial:      serial,
		Certificate: cert,
		PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
	}, nil
}

// mergeCertificates returns the unexpired certificates of both lists, one
// per serial (the newer list wins), newest first.
func mergeCertificates(now time.Time, older, newer []*PlatformCertificate) []*PlatformCertificate {
	seen := map[string]bool{}
	var out []*PlatformCertificate
	for _, list := range [][]*PlatformCertificate{newer, older} {
		for _, c := range list {
			if seen[c.Serial] || !now.Before(c.NotAfter()) {
				continue
			}
			seen[c.Serial] = true
			out = append(out, c)
		}
	}
	sortNewestFirst(out)
	return out
}

// sortNewestFirst orders certificates by NotBefore, newest first, then by
// serial so that the order is stable.
func sortNewestFirst(certs []*PlatformCertificate) {
	sort.SliceStable(certs, func(i, j int) bool {
		a, b := certs[i].NotBefore(), certs[j].NotBefore()
		if !a.Equal(b) {
			return a.After(b)
		}
		return certs[i].Serial < certs[j].Serial
	})
}

// newestEffective returns the newest certificate already in effect, which
// encrypts sensitive fields when no public key is configured, or nil.
func newestEffective(now time.Time, certs []*PlatformCertificate) *PlatformCertificate {
	for _, c := range certs { // newest first
		if !now.Before(c.NotBefore()) && now.Before(c.NotAfter()) {
			return c
		}
	}
	return nil
}

package platformcert

import (
	"context"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
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

// Path is the WeChat Pay endpoint that lists a merchant's platform
// certificates (下载平台证书).
const Path = "/v3/certificates"

// CodeResourceNotExists is WeChat Pay's response code to Path for
// a merchant that has only the WeChat Pay public key: there is nothing to
// download, which is normal.
const CodeResourceNotExists = "RESOURCE_NOT_EXISTS"

// maxResponse caps the certificate list response.
const maxResponse = 1 << 20

// Certificate is a WeChat Pay platform certificate as downloaded and kept:
// the certificate, its serial and validity.
type Certificate struct {
	// Serial is the certificate serial, upper-case hex.
	Serial string
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
	// PEM is the certificate in PEM form.
	PEM string
}

// NotBefore is when the certificate becomes valid.
func (c *Certificate) NotBefore() time.Time { return c.Certificate.NotBefore }

// NotAfter is when the certificate expires.
func (c *Certificate) NotAfter() time.Time { return c.Certificate.NotAfter }

// Key returns the certificate's RSA public key.
func (c *Certificate) Key() *rsa.PublicKey { return c.Certificate.PublicKey.(*rsa.PublicKey) }

// ErrNotFound is WeChat Pay's 404 RESOURCE_NOT_EXISTS: the merchant has no
// platform certificate (public key only).
var ErrNotFound = errors.New("WeChat Pay has no platform certificate for this merchant (404 " + CodeResourceNotExists + "): it uses the WeChat Pay public key")

// UnavailableError is a download that got no answer to go by: the request
// could not be sent or answered (DNS, the connection, TLS, a timeout, a
// connection broken before the whole answer arrived), or the server answered
// with a 5xx status. The same request may succeed at another address of
// WeChat Pay's (its backup domain). Any other error of Run is an answer about
// the request itself (a refusal, certificates that do not decrypt, a
// signature that does not verify), which another address would give too.
type UnavailableError struct {
	// Err is what went wrong.
	Err error
}

func (e *UnavailableError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *UnavailableError) Unwrap() error { return e.Err }

// response is the JSON of a Path response.
type response struct {
	Data []struct {
		SerialNo           string         `json:"serial_no"`
		EffectiveTime      string         `json:"effective_time"`
		ExpireTime         string         `json:"expire_time"`
		EncryptCertificate apiv3.Resource `json:"encrypt_certificate"`
	} `json:"data"`
}

// Download is one call of Path. Its fields are set once and not changed.
type Download struct {
	// Client sends the request.
	Client *http.Client
	// URL is the base URL + Path.
	URL string
	// UserAgent names the client, as WeChat Pay requires.
	UserAgent string
	// Signer signs the request as the merchant.
	Signer *apiv3.Signer
	// AEAD is AES-256-GCM under the APIv3 key (apiv3.NewAEAD).
	AEAD cipher.AEAD
	// Now is the clock for certificate validity; signatures use the real
	// clock.
	Now func() time.Time
	// Anchors, when not empty, are the only keys the response's signature
	// may verify with (the configured public key). When empty, the response
	// must verify with a certificate it carries or one of Known.
	Anchors map[string]*rsa.PublicKey
	// Known are certificates trusted before this download.
	Known []*Certificate
	// Serial is sent as Wechatpay-Serial, naming the key WeChat Pay should
	// sign the response with; may be empty.
	Serial string
}

// Run downloads, decrypts and verifies the merchant's platform
// certificates. It returns the unexpired ones, newest first, or
// ErrNotFound, or an *UnavailableError when no answer came to go by.
func (d *Download) Run(ctx context.Context) ([]*Certificate, error) {
	req, err := NewRequest(ctx, d.URL, d.UserAgent, d.Signer, d.Serial)
	if err != nil {
		return nil, err
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		return nil, &UnavailableError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, &UnavailableError{fmt.Errorf("reading the answer: %w", err)}
	}
	if len(body) > maxResponse {
		return nil, errors.New("the answer is larger than 1 MiB")
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code, Message string }
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusNotFound && e.Code == CodeResourceNotExists {
			return nil, ErrNotFound
		}
		err := fmt.Errorf("WeChat Pay answered %d %s%s (Request-ID %s)", resp.StatusCode, e.Code,
			shortMessage(e.Message), resp.Header.Get("Request-ID"))
		if resp.StatusCode >= 500 {
			return nil, &UnavailableError{err}
		}
		return nil, err
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

// decrypt decrypts and checks each certificate of the response (DecryptList).
func (d *Download) decrypt(body []byte) ([]*Certificate, error) {
	return DecryptList(body, d.AEAD, d.Now())
}

// DecryptList decrypts and checks each certificate of a GET /v3/certificates
// answer: AES-256-GCM under the APIv3 key (which authenticates it as WeChat
// Pay's), an RSA certificate whose serial is the one listed. Expired
// certificates are left out; none left is an error. The newest comes first.
func DecryptList(body []byte, aead cipher.AEAD, now time.Time) ([]*Certificate, error) {
	var a response
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("the answer is not the certificate list: %w", err)
	}
	var out []*Certificate
	for i, item := range a.Data {
		ec := item.EncryptCertificate
		where := fmt.Sprintf("certificate #%d (serial %s)", i+1, item.SerialNo)
		if ec.Algorithm != apiv3.ResourceAlgorithm {
			return nil, fmt.Errorf("%s: algorithm %q, want %s", where, ec.Algorithm, apiv3.ResourceAlgorithm)
		}
		plain, err := ec.Open(aead)
		if err != nil {
			// The ResourceError says what is wrong; a failed decryption
			// gets the likely cause besides.
			if re := (*apiv3.ResourceError)(nil); errors.As(err, &re) && re.Problem == apiv3.NotAuthentic {
				return nil, fmt.Errorf("%s: %w (is apiv3_key the one set in the merchant platform?)", where, err)
			}
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		pc, err := Parse(plain)
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
	SortNewestFirst(out)
	return out, nil
}

// verify checks the response's signature: with the anchors when there are
// any, else with a certificate of the response or one already trusted.
func (d *Download) verify(header http.Header, body []byte, certs []*Certificate) error {
	keys := d.Anchors
	if len(keys) == 0 {
		keys = map[string]*rsa.PublicKey{}
		for _, c := range append(append([]*Certificate(nil), d.Known...), certs...) {
			keys[c.Serial] = c.Key()
		}
	}
	v := apiv3.NewVerifier(keys)
	if err := v.Verify(header, body); err != nil {
		ve := apiv3.AsVerifyError(err)
		return fmt.Errorf("the answer's signature does not verify: %s: %s (Wechatpay-Serial %q)", ve.Code, ve.Reason, ve.Serial)
	}
	return nil
}

// Parse parses a decrypted (or stored) certificate PEM.
func Parse(data []byte) (*Certificate, error) {
	cert, serial, err := pemkey.ParseCertificate(data)
	if err != nil {
		return nil, err
	}
	return &Certificate{
		Serial:      serial,
		Certificate: cert,
		PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
	}, nil
}

// Merge returns the unexpired certificates of both lists, one
// per serial (the newer list wins), newest first.
func Merge(now time.Time, older, newer []*Certificate) []*Certificate {
	seen := map[string]bool{}
	var out []*Certificate
	for _, list := range [][]*Certificate{newer, older} {
		for _, c := range list {
			if seen[c.Serial] || !now.Before(c.NotAfter()) {
				continue
			}
			seen[c.Serial] = true
			out = append(out, c)
		}
	}
	SortNewestFirst(out)
	return out
}

// SortNewestFirst orders certificates by NotBefore, newest first, then by
// serial so that the order is stable.
func SortNewestFirst(certs []*Certificate) {
	sort.SliceStable(certs, func(i, j int) bool {
		a, b := certs[i].NotBefore(), certs[j].NotBefore()
		if !a.Equal(b) {
			return a.After(b)
		}
		return certs[i].Serial < certs[j].Serial
	})
}

// NewestEffective returns the newest certificate already in effect, which
// encrypts sensitive fields when no public key is configured, or nil.
func NewestEffective(now time.Time, certs []*Certificate) *Certificate {
	for _, c := range certs { // newest first
		if !now.Before(c.NotBefore()) && now.Before(c.NotAfter()) {
			return c
		}
	}
	return nil
}

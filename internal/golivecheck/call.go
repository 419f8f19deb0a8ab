package golivecheck

import (
	"context"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clockskew"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
)

// MaxSkew is the clock skew against WeChat Pay's Date from which the clock
// line fails: WeChat Pay refuses requests, and the proxy refuses answers,
// at 5 minutes; a minute leaves the clock time to be corrected first.
const MaxSkew = 60 * time.Second

// maxAnswer caps the answer read.
const maxAnswer = 1 << 20

// Call is the one call of a check: GET /v3/certificates, signed as the
// merchant. Every merchant may call it; it changes nothing at WeChat Pay.
type Call struct {
	// Client sends the request.
	Client *http.Client
	// URL is the base URL + platformcert.Path.
	URL string
	// UserAgent names the client, as WeChat Pay requires.
	UserAgent string
	// Signer signs the request as the merchant.
	Signer *apiv3.Signer
	// Trusted are the configured WeChat Pay keys (public key ID or
	// certificate serial → key); empty when the merchant trusts only the
	// platform certificates it downloads.
	Trusted map[string]*rsa.PublicKey
	// Serial is sent as Wechatpay-Serial: the configured key WeChat Pay
	// is asked to sign with; may be empty.
	Serial string
	// AEAD is AES-256-GCM under the APIv3 key, nil without apiv3_key: it
	// decrypts the listed certificates, which verify the answer when no
	// key is configured.
	AEAD cipher.AEAD
	// Now is the local clock the skew is measured with and the answer's
	// timestamp checked against (the request is signed at time.Now);
	// time.Now when nil.
	Now func() time.Time
}

// answer is what came back.
type answer struct {
	status int
	header http.Header
	body   []byte
	sentAt time.Time // local clock, midway between sending and the answer
}

// Run makes the call and returns its lines: whether WeChat Pay accepts
// the signature, whether the configured keys verify its answer (and which
// key it signed with), and the clock skew against its Date header. A call
// that gets no answer fails the first line and skips the others.
func (c *Call) Run(ctx context.Context) []Line {
	a, err := c.send(ctx)
	if err != nil {
		return []Line{
			{Check: CheckSignature, Status: Fail, Text: "no answer from " + c.URL + ": " + err.Error(),
				Fix: "check the URL (certificates_url, the handler's reverse_proxy upstream, or --url), DNS, the firewall, " +
					"and any HTTP proxy between this host and WeChat Pay"},
			{Check: CheckAnswer, Status: Skipped, Text: "no answer to verify"},
			{Check: CheckClock, Status: Skipped, Text: "no answer to read WeChat Pay's Date from"},
		}
	}
	accepted, certs, lines := c.judgeStatus(a)
	lines = append(lines, c.judgeAnswer(a, accepted, certs)...)
	return append(lines, clockLine(a))
}

// send signs and sends the request and reads the answer.
func (c *Call) send(ctx context.Context) (*answer, error) {
	start := c.now()
	req, err := platformcert.NewRequest(ctx, c.URL, c.UserAgent, c.Signer, c.Serial)
	if err != nil {
		return nil, err
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err // the URL is named by the caller
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxAnswer {
		return nil, errors.New("the answer is larger than 1 MiB: is this WeChat Pay?")
	}
	end := c.now()
	return &answer{status: resp.StatusCode, header: resp.Header, body: body, sentAt: start.Add(end.Sub(start) / 2)}, nil
}

func (c *Call) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// certificateList is the JSON of a 200 answer.
type certificateList struct {
	Data []struct {
		SerialNo           string         `json:"serial_no"`
		EncryptCertificate apiv3.Resource `json:"encrypt_certificate"`
	} `json:"data"`
}

// judgeStatus reads the status: 200 (the certificate list) and 404
// RESOURCE_NOT_EXISTS (a merchant on the WeChat Pay public key) mean the
// signature was accepted. It returns the certificates listed, decrypted
// when an APIv3 key is configured.
func (c *Call) judgeStatus(a *answer) (accepted bool, certs []*platformcert.Certificate, lines []Line) {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Detail  struct {
			Field string `json:"field"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(a.body, &e)
	refusal := Refusal{Status: a.status, Code: e.Code, Message: e.Message, Field: e.Detail.Field}
	quoted := strconv.Itoa(a.status) + " " + e.Code
	if e.Message != "" {
		quoted += " " + strconv.Quote(shorten(e.Message))
	}
	if id := a.header.Get("Request-ID"); id != "" {
		quoted += " (Request-ID " + shownID(id) + ")"
	}
	switch {
	case a.status == http.StatusOK:
		var list certificateList
		if err := json.Unmarshal(a.body, &list); err != nil {
			return true, nil, []Line{{Check: CheckSignature, Status: Fail,
				Text: "WeChat Pay answered 200, but not with the certificate list: " + err.Error(),
				Fix:  "is the URL WeChat Pay's? An API gateway in between may answer for it"}}
		}
		line := Line{Check: CheckSignature, Status: OK, Text: fmt.Sprintf("WeChat Pay accepts it: 200, %d platform certificate(s) listed", len(list.Data))}
		lines = append(lines, line)
		if c.AEAD == nil {
			return true, nil, lines
		}
		certs, err := platformcert.DecryptList(a.body, c.AEAD, c.now()) // as the download at start checks them
		if err != nil {
			lines = append(lines, Line{Check: CheckAPIv3Key, Status: Fail, Text: "WeChat Pay's certificates do not decrypt: " + err.Error(),
				Fix: "apiv3_key must be the APIv3 key (APIv3密钥) set in the merchant platform (账户中心 → API安全)"})
			return true, nil, lines
		}
		return true, certs, append(lines, Line{Check: CheckAPIv3Key, Status: OK, Text: "decrypts the platform certificates WeChat Pay lists"})
	case a.status == http.StatusNotFound && e.Code == platformcert.CodeResourceNotExists:
		return true, nil, []Line{{Check: CheckSignature, Status: OK,
			Text: "WeChat Pay accepts it: 404 " + platformcert.CodeResourceNotExists + ", no platform certificate (a merchant on the WeChat Pay public key)"}}
	case refusesSignature(refusal):
		return false, nil, []Line{{Check: CheckSignature, Status: Fail, Text: "WeChat Pay refuses it: " + quoted, Fix: SignErrorHint(refusal)}}
	case a.status >= 500:
		return false, nil, []Line{{Check: CheckSignature, Status: Fail, Text: "WeChat Pay (or a gateway before it) failed: " + quoted,
			Fix: "run the check again later; if it persists, try the backup domain with --url https://api2.mch.weixin.qq.com"}}
	}
	return false, nil, []Line{{Check: CheckSignature, Status: Fail, Text: "unexpected answer to GET " + platformcert.Path + ": " + quoted,
		Fix: "is the URL WeChat Pay's API (https://api.mch.weixin.qq.com)? An API gateway in between may answer for it"}}
}

// judgeAnswer verifies the answer's signature with the configured keys (or,
// when none is configured, with the certificates it lists, as the first
// download does) and says which key WeChat Pay signed with.
func (c *Call) judgeAnswer(a *answer, accepted bool, certs []*platformcert.Certificate) []Line {
	signed := a.header.Get("Wechatpay-Signature") != ""
	if !accepted && !signed {
		return []Line{{Check: CheckAnswer, Status: Skipped, Text: "WeChat Pay's refusal carries no signature to verify"}}
	}
	keys, from := c.Trusted, "configured"
	if len(keys) == 0 {
		if a.status == http.StatusNotFound {
			return []Line{{Check: CheckAnswer, Status: Fail,
				Text: "WeChat Pay has no platform certificate for this merchant, and no WeChat Pay public key is configured",
				Fix:  "the merchant uses the WeChat Pay public key: configure public_key_id and public_key (商户平台 → 账户中心 → API安全 → 微信支付公钥)"}}
		}
		if len(certs) == 0 {
			return []Line{{Check: CheckAnswer, Status: Skipped,
				Text: "no configured key, and no platform certificate decrypted from the answer, to verify it with"}}
		}
		keys, from = map[string]*rsa.PublicKey{}, "listed in the answer"
		for _, pc := range certs {
			keys[pc.Serial] = pc.Key()
		}
	}
	v := apiv3.NewVerifier(keys)
	v.Now = c.Now
	s, err := v.Check(a.header, a.body)
	if err == nil {
		return []Line{{Check: CheckAnswer, Status: OK, Text: "verified: WeChat Pay signed with " + keyName(s.Serial) + " (" + from + ")" + c.migrationNote(s.Serial, certs)}}
	}
	ve := apiv3.AsVerifyError(err)
	ve.Serial = shownID(ve.Serial)
	line := Line{Check: CheckAnswer, Status: Fail, Text: "does not verify: " + ve.Code + ", " + ve.Reason}
	isPublicKey := strings.HasPrefix(ve.Serial, apiv3.PublicKeyIDPrefix)
	switch ve.Code {
	case apiv3.CodeSerialUnknown:
		line.Text = "WeChat Pay signed with " + keyName(ve.Serial) + ", which is not configured (configured: " + known(c.Trusted) + ")"
		line.Fix = "platform_certificate: add the platform certificate of that serial (caddy wechatpay certificates downloads them), or configure the WeChat Pay public key"
		if isPublicKey {
			line.Fix = "public_key_id: set it to " + ve.Serial + ", with public_key that key's pub_key.pem (商户平台 → 账户中心 → API安全 → 微信支付公钥)"
		}
		if len(c.Trusted) == 0 {
			line.Fix = "WeChat Pay signed with a key it does not list: configure public_key_id and public_key"
		}
	case apiv3.CodeSignatureInvalid, apiv3.CodeSignatureProbe:
		line.Text = "the signature does not verify with the key configured as " + keyName(ve.Serial)
		line.Fix = "platform_certificate: the certificate of serial " + ve.Serial + " is not WeChat Pay's; download it again (caddy wechatpay certificates)"
		if isPublicKey {
			line.Fix = "public_key: it is not the WeChat Pay public key of " + ve.Serial + " (another merchant's, or an older one): " +
				"download pub_key.pem again from 商户平台 → 账户中心 → API安全 → 微信支付公钥"
		}
	case apiv3.CodeTimestampExpired:
		line.Fix = "the clock: this host's time is 5 minutes or more away from WeChat Pay's; correct it (NTP)"
	case apiv3.CodeSignatureMissing:
		line.Text = "the answer carries no signature: " + ve.Reason
		line.Fix = "something other than WeChat Pay answered (an API gateway or proxy in between): point the URL at WeChat Pay"
	}
	return []Line{line}
}

// migrationNote tells a merchant that trusts the public key which platform
// certificates WeChat Pay still lists.
func (c *Call) migrationNote(signedWith string, certs []*platformcert.Certificate) string {
	if !strings.HasPrefix(signedWith, apiv3.PublicKeyIDPrefix) || len(certs) == 0 {
		return ""
	}
	serials := make([]string, 0, len(certs))
	for _, pc := range certs {
		serials = append(serials, pc.Serial)
	}
	return "; WeChat Pay still lists platform certificate(s) " + strings.Join(serials, ", ")
}

// keyName names a key by its ID or serial.
func keyName(id string) string {
	if strings.HasPrefix(id, apiv3.PublicKeyIDPrefix) {
		return "the WeChat Pay public key " + id
	}
	return "platform certificate " + id
}

// known lists the configured key names.
func known(keys map[string]*rsa.PublicKey) string {
	if len(keys) == 0 {
		return "none"
	}
	names := make([]string, 0, len(keys))
	for id := range keys {
		names = append(names, id)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// clockLine measures this host's clock against WeChat Pay's Date header.
func clockLine(a *answer) Line {
	date, err := http.ParseTime(a.header.Get("Date"))
	if err != nil {
		return Line{Check: CheckClock, Status: Warn, Text: "WeChat Pay's answer has no Date header to measure the clock against",
			Fix: "keep this host's clock right with NTP"}
	}
	skew := a.sentAt.Sub(date).Round(time.Second)
	text := describeSkew(skew) + ", by WeChat Pay's Date header"
	if skew >= MaxSkew || skew <= -MaxSkew {
		return Line{Check: CheckClock, Status: Fail, Text: text,
			Fix: "correct this host's clock (NTP): WeChat Pay refuses requests, and the proxy refuses answers, 5 minutes off"}
	}
	return Line{Check: CheckClock, Status: OK, Text: text}
}

// describeSkew says a skew (local minus WeChat Pay) in words, as the
// proxy's own clock warnings do.
func describeSkew(d time.Duration) string {
	s := int64(d / time.Second)
	if s == 0 {
		return "this host is in step with WeChat Pay (within a second)"
	}
	return "this host is " + clockskew.Describe(s)
}

// shownID returns an ID from the answer's headers (a serial, a key ID, a
// Request-ID) as it is when it looks like one, else quoted and cut short:
// the answer may come from anyone, and a line goes to a terminal.
func shownID(id string) string {
	if len(id) <= 64 && strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == "" {
		return id
	}
	return strconv.Quote(logtext.Truncate(id, 64))
}

// shorten cuts a message from the network for a line.
func shorten(m string) string {
	if r := []rune(m); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return m
}

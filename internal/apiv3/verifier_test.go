package apiv3

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Test keys, generated once per test binary.
//
//   - vkPubKey / vkPubKeyID: "WeChat Pay public key" mode.
//   - vkCertKey / vkCert / vkCertSerial: platform-certificate mode.
//   - vkRogueKey: a key nobody trusts.
type verifyTestKeys struct {
	pubKey     *rsa.PrivateKey
	pubKeyID   string
	certKey    *rsa.PrivateKey
	cert       *x509.Certificate
	certSerial string
	rogueKey   *rsa.PrivateKey
}

var (
	verifyKeysOnce sync.Once
	verifyKeys     verifyTestKeys
)

func testVerifyKeys(tb testing.TB) *verifyTestKeys {
	tb.Helper()
	verifyKeysOnce.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		k := &verifyKeys
		k.pubKey, k.certKey, k.rogueKey = gen(), gen(), gen()
		k.pubKeyID = "PUB_KEY_ID_0114232134912410000000000000"
		k.cert = testkit.SelfSigned(k.certKey, "4A2C8F3E1B7D90A5C6E2F10B3D4C5E6F7A8B9C0D", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		k.certSerial = utils.GetCertificateSerialNumber(*k.cert) // fmt.Sprintf("%X", serial)
	})
	return &verifyKeys
}

// allKeys is the module configuration trusting both the public key and the
// platform certificate.
func (k *verifyTestKeys) allKeys() map[string]*rsa.PublicKey {
	return map[string]*rsa.PublicKey{
		k.pubKeyID:   &k.pubKey.PublicKey,
		k.certSerial: k.cert.PublicKey.(*rsa.PublicKey),
	}
}

// verifySignMsg signs TIMESTAMP\nNONCE\nBODY\n with priv and returns base64.
func verifySignMsg(tb testing.TB, priv *rsa.PrivateKey, ts, nonce string, body []byte) string {
	tb.Helper()
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func verifyResponseHeader(ts, nonce, sig, serial string) http.Header {
	h := http.Header{}
	h.Set("Request-ID", "08F1A2B3C4D5E6F7-0")
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	return h
}

const verifyTestNonce = "fdasflkja484w2u7pl3kl0a2"

var verifyTestBody = []byte(`{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz","prepay_id":"wx2616353452348e2f5f6"}`)

func TestVerifyCodes(t *testing.T) {
	k := testVerifyKeys(t)
	now := time.Unix(1700000000, 0)
	at := func(off int64) string { return strconv.FormatInt(now.Unix()+off, 10) }
	good := func(off int64, body []byte) http.Header {
		ts := at(off)
		return verifyResponseHeader(ts, verifyTestNonce, verifySignMsg(t, k.pubKey, ts, verifyTestNonce, body), k.pubKeyID)
	}
	goodCert := func(off int64, body []byte) http.Header {
		ts := at(off)
		return verifyResponseHeader(ts, verifyTestNonce, verifySignMsg(t, k.certKey, ts, verifyTestNonce, body), k.certSerial)
	}
	with := func(h http.Header, key, val string) http.Header {
		h = h.Clone()
		h.Set(key, val)
		return h
	}
	without := func(h http.Header, key string) http.Header {
		h = h.Clone()
		h.Del(key)
		return h
	}
	sig := good(0, verifyTestBody).Get("Wechatpay-Signature")

	tests := []struct {
		name   string
		header http.Header
		body   []byte
		code   string // "" = must verify
	}{
		{"good public key", good(0, verifyTestBody), verifyTestBody, ""},
		{"good platform cert", goodCert(0, verifyTestBody), verifyTestBody, ""},
		{"good empty body", good(0, nil), nil, ""},
		{"good empty body as empty slice", good(0, nil), []byte{}, ""},
		{"good without Request-ID", without(good(0, verifyTestBody), "Request-ID"), verifyTestBody, ""},
		{"good with padded header values", func() http.Header {
			h := good(0, verifyTestBody)
			for _, n := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"} {
				h.Set(n, " \t"+h.Get(n)+" ")
			}
			return h
		}(), verifyTestBody, ""},
		{"good 299s old", good(-299, verifyTestBody), verifyTestBody, ""},
		{"good 299s ahead", good(299, verifyTestBody), verifyTestBody, ""},

		{"missing timestamp", without(good(0, verifyTestBody), "Wechatpay-Timestamp"), verifyTestBody, CodeSignatureMissing},
		{"missing nonce", without(good(0, verifyTestBody), "Wechatpay-Nonce"), verifyTestBody, CodeSignatureMissing},
		{"missing signature", without(good(0, verifyTestBody), "Wechatpay-Signature"), verifyTestBody, CodeSignatureMissing},
		{"missing serial", without(good(0, verifyTestBody), "Wechatpay-Serial"), verifyTestBody, CodeSignatureMissing},
		{"empty signature", with(good(0, verifyTestBody), "Wechatpay-Signature", ""), verifyTestBody, CodeSignatureMissing},
		{"blank serial", with(good(0, verifyTestBody), "Wechatpay-Serial", "  "), verifyTestBody, CodeSignatureMissing},
		{"no headers at all", http.Header{}, verifyTestBody, CodeSignatureMissing},
		{"nil header", nil, verifyTestBody, CodeSignatureMissing},

		{"probe signature", with(good(0, verifyTestBody), "Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+sig), verifyTestBody, CodeSignatureProbe},
		{"bare probe prefix", with(good(0, verifyTestBody), "Wechatpay-Signature", "WECHATPAY/SIGNTEST/"), verifyTestBody, CodeSignatureProbe},

		{"unknown serial", with(good(0, verifyTestBody), "Wechatpay-Serial", "PUB_KEY_ID_0000"), verifyTestBody, CodeSerialUnknown},
		{"lower-case cert serial", with(goodCert(0, verifyTestBody), "Wechatpay-Serial", strings.ToLower(k.certSerial)), verifyTestBody, CodeSerialUnknown},

		{"timestamp not a number", with(good(0, verifyTestBody), "Wechatpay-Timestamp", "now"), verifyTestBody, CodeTimestampInvalid},
		{"timestamp decimal", with(good(0, verifyTestBody), "Wechatpay-Timestamp", at(0)+".5"), verifyTestBody, CodeTimestampInvalid},
		{"timestamp overflows int64", with(good(0, verifyTestBody), "Wechatpay-Timestamp", "99999999999999999999"), verifyTestBody, CodeTimestampInvalid},

		{"300s old", good(-300, verifyTestBody), verifyTestBody, CodeTimestampExpired},
		{"300s ahead", good(300, verifyTestBody), verifyTestBody, CodeTimestampExpired},
		{"1 day old", good(-86400, verifyTestBody), verifyTestBody, CodeTimestampExpired},
		{"timestamp zero", good(-now.Unix(), verifyTestBody), verifyTestBody, CodeTimestampExpired},
		{"timestamp min int64", with(good(0, verifyTestBody), "Wechatpay-Timestamp", "-9223372036854775808"), verifyTestBody, CodeTimestampExpired},
		{"timestamp max int64", with(good(0, verifyTestBody), "Wechatpay-Timestamp", "9223372036854775807"), verifyTestBody, CodeTimestampExpired},

		{"bad base64", with(good(0, verifyTestBody), "Wechatpay-Signature", "not base64!"), verifyTestBody, CodeSignatureInvalid},
		{"url-safe base64", with(good(0, verifyTestBody), "Wechatpay-Signature",
			strings.NewReplacer("+", "-", "/", "_").Replace(sig)+"-_"), verifyTestBody, CodeSignatureInvalid},
		{"tampered body", good(0, verifyTestBody), append([]byte(" "), verifyTestBody...), CodeSignatureInvalid},
		{"body missing", good(0, verifyTestBody), nil, CodeSignatureInvalid},
		{"tampered nonce", with(good(0, verifyTestBody), "Wechatpay-Nonce", verifyTestNonce+"x"), verifyTestBody, CodeSignatureInvalid},
		{"tampered timestamp", with(good(0, verifyTestBody), "Wechatpay-Timestamp", at(1)), verifyTestBody, CodeSignatureInvalid},
		{"signed by rogue key", with(good(0, verifyTestBody), "Wechatpay-Signature",
			verifySignMsg(t, k.rogueKey, at(0), verifyTestNonce, verifyTestBody)), verifyTestBody, CodeSignatureInvalid},
		{"cert signature under public key ID", with(goodCert(0, verifyTestBody), "Wechatpay-Serial", k.pubKeyID), verifyTestBody, CodeSignatureInvalid},
		{"truncated signature", with(good(0, verifyTestBody), "Wechatpay-Signature", sig[:len(sig)-8]), verifyTestBody, CodeSignatureInvalid},
	}

	v := NewVerifier(k.allKeys())
	v.Now = func() time.Time { return now }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.header, tt.body)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Verify() = %v, want nil", err)
				}
				return
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify() = %#v, want *VerifyError %s", err, tt.code)
			}
			if ve.Code != tt.code {
				t.Fatalf("Verify() code = %s (%v), want %s", ve.Code, err, tt.code)
			}
			if s := strings.TrimSpace(tt.header.Get("Wechatpay-Signature")); len(s) > 20 && strings.Contains(err.Error(), s[len(s)-20:]) {
				t.Fatalf("error text leaks the signature: %v", err)
			}
			if ve.Serial != strings.TrimSpace(tt.header.Get("Wechatpay-Serial")) ||
				ve.RequestID != tt.header.Get("Request-ID") {
				t.Fatalf("error carries serial %q request-id %q", ve.Serial, ve.RequestID)
			}
		})
	}
}

func TestVerifyNilKeyIgnored(t *testing.T) {
	k := testVerifyKeys(t)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := verifyResponseHeader(ts, verifyTestNonce, verifySignMsg(t, k.pubKey, ts, verifyTestNonce, verifyTestBody), k.pubKeyID)
	err := NewVerifier(map[string]*rsa.PublicKey{k.pubKeyID: nil}).Verify(h, verifyTestBody)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Code != CodeSerialUnknown {
		t.Fatalf("Verify() = %v, want %s", err, CodeSerialUnknown)
	}
}

func TestVerifyErrorText(t *testing.T) {
	e := &VerifyError{Code: CodeSignatureInvalid, Reason: "signature does not verify", Serial: "PUB_KEY_ID_1", RequestID: "R-1"}
	want := `wechatpay: response verification failed: SIGNATURE_INVALID: signature does not verify (serial="PUB_KEY_ID_1", request-id="R-1")`
	if e.Error() != want {
		t.Fatalf("Error() = %s\nwant       %s", e.Error(), want)
	}
}

// Known answer: a fixed message signed by the SDK with a fixed key (PKCS#1
// v1.5 is deterministic) gives a fixed signature, which Verify accepts.
func TestVerifyKnownAnswer(t *testing.T) {
	priv, err := utils.LoadPrivateKey(testkit.KATKeyPEM) // test-only key

	if err != nil {
		t.Fatal(err)
	}
	const (
		ts      = "1554208460"
		nonce   = "593BEC0C930BF1AFEB40B4A08C8FB242"
		body    = `{"mchid":"1900000001","out_trade_no":"1217752501201407033233368018","trade_state":"SUCCESS"}`
		message = ts + "\n" + nonce + "\n" + body + "\n"
		wantSig = "YWxRtRPmXB2ZxjPGyt2PaBp43AG5qzBJt042zg+wo25YR9gJ1a65JzaL2C8EpeHNjUaW8pnVnevEzR0mSq6ighvhsISBQi5/rFII9N1eUHaos1teNu8hdt7849ahULMD31AFJXukmcxSTA4KaeFuPl+IFqz0C4yy4MhZ4baedyVEt8vnNrtml6Nlne9d8vmGVdf8HxOcx3fyuqqhcpIQ1zOC0UOlTqme5f/sAx7qCEfhxIPQPBIQ1vgQWDXTbNumx9plFBxHBl9WOgmJNMGW/NaIcNq9FWCmAVBntz/XexmAKcw+VCAoDiZ1xjs/y+OIsHeMuo+RbfwiNDCumYvVFA=="
	)
	sig, err := utils.SignSHA256WithRSA(message, priv)
	if err != nil {
		t.Fatal(err)
	}
	if sig != wantSig {
		t.Fatalf("SDK signature changed:\n got %s\nwant %s", sig, wantSig)
	}
	v := NewVerifier(map[string]*rsa.PublicKey{"PUB_KEY_ID_KAT": &priv.PublicKey})
	v.Now = func() time.Time { return time.Unix(1554208460+60, 0) }
	if err := v.Verify(verifyResponseHeader(ts, nonce, wantSig, "PUB_KEY_ID_KAT"), []byte(body)); err != nil {
		t.Fatalf("Verify(known answer) = %v", err)
	}
	if err := v.Verify(verifyResponseHeader(ts, nonce, wantSig, "PUB_KEY_ID_KAT"), []byte(body+" ")); err == nil {
		t.Fatal("Verify(known answer, altered body) = nil")
	}
}

// verifyRecordedResponse is one response replayed through both the module and the SDK.
type verifyRecordedResponse struct {
	name   string
	header http.Header
	body   []byte
}

// verifyDifferentialResponses builds answers whose timestamps are relative to now.
func verifyDifferentialResponses(t *testing.T, k *verifyTestKeys, now int64) []verifyRecordedResponse {
	var out []verifyRecordedResponse
	add := func(name string, h http.Header, body []byte) {
		out = append(out, verifyRecordedResponse{name, h, body})
	}
	bigBody := []byte(strings.Repeat(`{"k":"值 value"},`, 4000))
	for _, signer := range []struct {
		name   string
		key    *rsa.PrivateKey
		serial string
	}{
		{"pubkey", k.pubKey, k.pubKeyID},
		{"cert", k.certKey, k.certSerial},
	} {
		p := signer.name + "/"
		ts0 := strconv.FormatInt(now, 10)
		mk := func(off int64, nonce string, body []byte) http.Header {
			ts := strconv.FormatInt(now+off, 10)
			return verifyResponseHeader(ts, nonce, verifySignMsg(t, signer.key, ts, nonce, body), signer.serial)
		}
		mod := func(h http.Header, key string, vals ...string) http.Header {
			h = h.Clone()
			if vals == nil {
				h.Del(key)
			} else {
				h[http.CanonicalHeaderKey(key)] = vals
			}
			return h
		}
		sig0 := mk(0, verifyTestNonce, verifyTestBody).Get("Wechatpay-Signature")

		add(p+"good", mk(0, verifyTestNonce, verifyTestBody), verifyTestBody)
		add(p+"good empty body", mk(0, verifyTestNonce, nil), nil)
		add(p+"good big body", mk(0, verifyTestNonce, bigBody), bigBody)
		add(p+"good body with newlines", mk(0, verifyTestNonce, []byte("a\n\nb\n")), []byte("a\n\nb\n"))
		add(p+"good no Request-ID", mod(mk(0, verifyTestNonce, verifyTestBody), "Request-ID"), verifyTestBody)
		add(p+"wrong key", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature",
			verifySignMsg(t, k.rogueKey, ts0, verifyTestNonce, verifyTestBody)), verifyTestBody)
		add(p+"tampered body", mk(0, verifyTestNonce, verifyTestBody), []byte(`{"prepay_id":"evil"}`))
		add(p+"tampered body trailing newline", mk(0, verifyTestNonce, verifyTestBody), append(append([]byte{}, verifyTestBody...), '\n'))
		add(p+"empty body but signed non-empty", mk(0, verifyTestNonce, verifyTestBody), nil)
		add(p+"non-empty body but signed empty", mk(0, verifyTestNonce, nil), verifyTestBody)
		add(p+"tampered nonce", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Nonce", "other"), verifyTestBody)
		add(p+"tampered timestamp", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Timestamp", strconv.FormatInt(now+1, 10)), verifyTestBody)
		for _, off := range []int64{-100000, -301, -300, -299, -120, -1, 1, 120, 299, 300, 301, 100000, -now} {
			add(fmt.Sprintf("%soffset %+d", p, off), mk(off, verifyTestNonce, verifyTestBody), verifyTestBody)
		}
		add(p+"unknown serial", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Serial", "PUB_KEY_ID_0000000000"), verifyTestBody)
		add(p+"lower-case serial", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Serial", strings.ToLower(signer.serial)), verifyTestBody)
		add(p+"serial with spaces", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Serial", " "+signer.serial+"\t"), verifyTestBody)
		add(p+"serial good then bad", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Serial", signer.serial, "BAD"), verifyTestBody)
		add(p+"serial bad then good", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Serial", "BAD", signer.serial), verifyTestBody)
		add(p+"probe", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+sig0), verifyTestBody)
		add(p+"probe short", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", "WECHATPAY/SIGNTEST/AAAA"), verifyTestBody)
		for _, hn := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"} {
			add(p+"missing "+hn, mod(mk(0, verifyTestNonce, verifyTestBody), hn), verifyTestBody)
			add(p+"empty "+hn, mod(mk(0, verifyTestNonce, verifyTestBody), hn, ""), verifyTestBody)
			add(p+"blank "+hn, mod(mk(0, verifyTestNonce, verifyTestBody), hn, " \t "), verifyTestBody)
			// A key that is not in canonical form is invisible to Header.Get.
			h := mod(mk(0, verifyTestNonce, verifyTestBody), hn)
			h[strings.ToLower(hn)] = []string{mk(0, verifyTestNonce, verifyTestBody).Get(hn)}
			add(p+"lower-case key "+hn, h, verifyTestBody)
		}
		for _, bad := range []string{"abc", "1.7e9", "0x6553F100", ts0 + ".0", "99999999999999999999", "-99999999999999999999", ts0 + "s", "1_700_000_000"} {
			add(p+"timestamp "+bad, mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Timestamp", bad), verifyTestBody)
		}
		// The SDK signs strconv.FormatInt(ParseInt(header)), so a
		// non-canonical spelling of a valid timestamp verifies when the
		// signature was made over the canonical spelling, and fails when it
		// was made over the header text.
		for _, spelling := range []string{"+" + ts0, "0" + ts0, "00" + ts0} {
			add(p+"timestamp spelled "+spelling+" signed canonical",
				mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Timestamp", spelling), verifyTestBody)
			add(p+"timestamp spelled "+spelling+" signed as sent",
				verifyResponseHeader(spelling, verifyTestNonce, verifySignMsg(t, signer.key, spelling, verifyTestNonce, verifyTestBody), signer.serial), verifyTestBody)
		}
		add(p+"nonce padded, signed trimmed", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Nonce", "  "+verifyTestNonce+" "), verifyTestBody)
		add(p+"nonce padded, signed padded", verifyResponseHeader(ts0, " "+verifyTestNonce,
			verifySignMsg(t, signer.key, ts0, " "+verifyTestNonce, verifyTestBody), signer.serial), verifyTestBody)
		add(p+"bad base64", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", "!!!!"), verifyTestBody)
		add(p+"base64 without padding", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", strings.TrimRight(sig0, "=")), verifyTestBody)
		add(p+"url-safe base64", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature",
			strings.NewReplacer("+", "-", "/", "_").Replace(sig0)), verifyTestBody)
		add(p+"base64 with inner CRLF", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", sig0[:100]+"\r\n"+sig0[100:]), verifyTestBody)
		add(p+"base64 with inner space", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", sig0[:100]+" "+sig0[100:]), verifyTestBody)
		add(p+"signature truncated", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", sig0[:len(sig0)-4]), verifyTestBody)
		add(p+"signature extra block", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", sig0+"AAAA"), verifyTestBody)
		{
			sum := sha1.Sum([]byte(ts0 + "\n" + verifyTestNonce + "\n" + string(verifyTestBody) + "\n"))
			raw, _ := rsa.SignPKCS1v15(nil, signer.key, crypto.SHA1, sum[:])
			add(p+"SHA1 signature", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", base64.StdEncoding.EncodeToString(raw)), verifyTestBody)
			sum2 := sha256.Sum256([]byte(ts0 + "\n" + verifyTestNonce + "\n" + string(verifyTestBody) + "\n"))
			raw, _ = rsa.SignPSS(rand.Reader, signer.key, crypto.SHA256, sum2[:], nil)
			add(p+"PSS signature", mod(mk(0, verifyTestNonce, verifyTestBody), "Wechatpay-Signature", base64.StdEncoding.EncodeToString(raw)), verifyTestBody)
		}
	}
	add("no headers", http.Header{}, verifyTestBody)
	return out
}

// TestVerifyDifferentialSDK replays recorded responses through the module and
// through the official SDK's response validator, in public-key, platform
// certificate and combined mode, and requires the same verdict.
func TestVerifyDifferentialSDK(t *testing.T) {
	k := testVerifyKeys(t)
	certPub := k.cert.PublicKey.(*rsa.PublicKey)
	modes := []struct {
		name string
		sdk  auth.Verifier
		keys map[string]*rsa.PublicKey
	}{
		{"pubkey-mode",
			verifiers.NewSHA256WithRSAPubkeyVerifier(k.pubKeyID, k.pubKey.PublicKey),
			map[string]*rsa.PublicKey{k.pubKeyID: &k.pubKey.PublicKey}},
		{"cert-mode",
			verifiers.NewSHA256WithRSAVerifier(core.NewCertificateMapWithList([]*x509.Certificate{k.cert})),
			map[string]*rsa.PublicKey{k.certSerial: certPub}},
		{"combined-mode",
			verifiers.NewSHA256WithRSACombinedVerifier(core.NewCertificateMapWithList([]*x509.Certificate{k.cert}), k.pubKeyID, k.pubKey.PublicKey),
			k.allKeys()},
	}

	// The SDK reads time.Now itself. Answers are built relative to a clock
	// second ahead of time, and each is judged by both verifiers within
	// that second (else judged again), so that the ±300 s boundary cases
	// are exact however slow the machine is. A set is built for a second
	// `ahead` seconds away, and the test waits for that second to begin;
	// when building took longer than that (a loaded machine signs slowly),
	// ahead doubles.
	built := map[int64][]verifyRecordedResponse{}
	responsesAt := func(sec int64) []verifyRecordedResponse {
		if built[sec] == nil {
			built[sec] = verifyDifferentialResponses(t, k, sec)
		}
		return built[sec]
	}
	now := func() int64 { return time.Now().Unix() }
	responsesAt(now())
	var accepted, rejected int
	ahead := int64(2)
	for _, m := range modes {
		v := NewVerifier(m.keys) // v.Now == nil: time.Now, like the SDK
		sdk := validators.NewWechatPayResponseValidator(m.sdk)
		for i := range responsesAt(now()) {
			var name string
			var modErr, sdkErr error
			for attempt := 0; ; attempt++ {
				if attempt == 50 {
					t.Fatalf("%s: the clock second changed during each of 50 judgements", name)
				}
				start := now()
				answers, ready := built[start]
				if !ready { // building would take the second: build ahead
					target := start + ahead
					responsesAt(target)
					if now() >= target {
						ahead *= 2
					} else {
						time.Sleep(time.Until(time.Unix(target, 0)))
					}
					continue
				}
				a := answers[i]
				name = m.name + "/" + a.name
				modErr = v.Verify(a.header, a.body)
				resp := &http.Response{Header: a.header, Body: io.NopCloser(strings.NewReader(string(a.body)))}
				sdkErr = sdk.Validate(context.Background(), resp)
				if now() == start {
					break
				}
			}
			if (modErr == nil) != (sdkErr == nil) {
				t.Errorf("%s: module %v, SDK %v", name, modErr, sdkErr)
				continue
			}
			if modErr == nil {
				accepted++
			} else {
				rejected++
			}
			code := "OK"
			var ve *VerifyError
			if errors.As(modErr, &ve) {
				code = ve.Code
			}
			t.Logf("%-70s %-18s sdk=%v", name, code, sdkErr)
		}
	}
	t.Logf("%d answers accepted by both, %d rejected by both", accepted, rejected)
	if accepted < 20 || rejected < 100 {
		t.Fatalf("differential set too one-sided: %d accepted, %d rejected", accepted, rejected)
	}
}

// verifyReferenceVerdict is an independent, SDK-shaped re-implementation used by
// the fuzz target as an oracle.
func verifyReferenceVerdict(keys map[string]*rsa.PublicKey, now int64, h http.Header, body []byte) bool {
	get := func(k string) string { return strings.TrimSpace(h.Get(k)) }
	serial, sig, tsText, nonce := get("Wechatpay-Serial"), get("Wechatpay-Signature"), get("Wechatpay-Timestamp"), get("Wechatpay-Nonce")
	if serial == "" || sig == "" || tsText == "" || nonce == "" {
		return false
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return false
	}
	if d := new(big.Int).Sub(big.NewInt(now), big.NewInt(ts)); d.CmpAbs(big.NewInt(300)) >= 0 {
		return false
	}
	key, ok := keys[serial]
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\n%s\n%s\n", ts, nonce, body)))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], raw) == nil
}

const verifyFuzzNow = 1700000000

// FuzzVerify feeds arbitrary headers and bodies. mode 0 uses sig as given;
// mode 1 (2) replaces it with a real signature by the public key (platform
// certificate) over the header text as sent, so the accepting paths get
// explored too; mode 3 signs with the rogue key.
func FuzzVerify(f *testing.F) {
	k := testVerifyKeys(f)
	ts := strconv.FormatInt(verifyFuzzNow, 10)
	f.Add(ts, verifyTestNonce, verifySignMsg(f, k.pubKey, ts, verifyTestNonce, verifyTestBody), k.pubKeyID, verifyTestBody, uint8(0))
	f.Add(ts, verifyTestNonce, verifySignMsg(f, k.certKey, ts, verifyTestNonce, nil), k.certSerial, []byte{}, uint8(0))
	f.Add(ts, verifyTestNonce, "", k.pubKeyID, verifyTestBody, uint8(1))
	f.Add(" "+ts, verifyTestNonce+" ", "", k.certSerial, verifyTestBody, uint8(2))
	f.Add("+"+ts, verifyTestNonce, "", k.pubKeyID, verifyTestBody, uint8(1))
	f.Add(strconv.FormatInt(verifyFuzzNow-300, 10), verifyTestNonce, "", k.pubKeyID, verifyTestBody, uint8(1))
	f.Add(ts, verifyTestNonce, "WECHATPAY/SIGNTEST/AAAA", k.pubKeyID, verifyTestBody, uint8(0))
	f.Add(ts, verifyTestNonce, "", k.pubKeyID, verifyTestBody, uint8(3))

	keys := k.allKeys()
	signers := map[uint8]*rsa.PrivateKey{1: k.pubKey, 2: k.certKey, 3: k.rogueKey}
	v := NewVerifier(keys)
	v.Now = func() time.Time { return time.Unix(verifyFuzzNow, 0) }

	f.Fuzz(func(t *testing.T, ts, nonce, sig, serial string, body []byte, mode uint8) {
		if priv := signers[mode%4]; priv != nil {
			sig = verifySignMsg(t, priv, ts, nonce, body)
		}
		h := http.Header{}
		h.Set("Request-ID", "fuzz")
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", nonce)
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", serial)

		err := v.Verify(h, body)
		want := verifyReferenceVerdict(keys, verifyFuzzNow, h, body)
		if (err == nil) != want {
			t.Fatalf("Verify() = %v, reference verdict ok=%v", err, want)
		}
		if err == nil {
			return
		}
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("Verify() returned %T, want *VerifyError", err)
		}
		switch ve.Code {
		case CodeSignatureMissing, CodeSignatureProbe, CodeSerialUnknown,
			CodeTimestampInvalid, CodeTimestampExpired, CodeSignatureInvalid:
		default:
			t.Fatalf("unknown code %q", ve.Code)
		}
		// '+' and '/' occur in base64 but never in the module's own error
		// text: if they show up, they came from serial/request-id, or the
		// signature leaked.
		if !strings.ContainsAny(serial, "+/") && strings.ContainsAny(err.Error(), "+/") {
			t.Fatalf("error text may leak the signature: %v", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	k := testVerifyKeys(b)
	now := time.Unix(verifyFuzzNow, 0)
	ts := strconv.FormatInt(verifyFuzzNow, 10)
	body := []byte(strings.Repeat(`{"amount":{"total":100,"currency":"CNY"},"mchid":"1900000001"}`, 16)) // ~1 KiB
	h := verifyResponseHeader(ts, verifyTestNonce, verifySignMsg(b, k.pubKey, ts, verifyTestNonce, body), k.pubKeyID)
	v := NewVerifier(k.allKeys())
	v.Now = func() time.Time { return now }
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

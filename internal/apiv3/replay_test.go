package apiv3

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

func codeOf(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Code
	}
	if err == nil {
		return "OK"
	}
	return err.Error()
}

// TestVerifierRefusesReplays: with a replay window, a signed response seen
// once inside the accepted time is refused the second time; a fresh nonce
// or timestamp is not a replay; a forged signature never reaches the
// window; a full window refuses (fails closed) rather than forgets.
func TestVerifierRefusesReplays(t *testing.T) {
	c := testkit.Creds()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	v := NewVerifier(map[string]*rsa.PublicKey{c.PublicKeyID: &c.WechatPayKey.PublicKey})
	v.Now = clock
	v.Window = replay.New(replay.Config{Window: MaxResponseSkew, MaxEntries: 3, Now: clock})
	body := []byte(`{"trade_state":"SUCCESS"}`)
	sign := func(ts int64, nonce string) http.Header {
		h := http.Header{}
		testkit.SignWechatPay(t, h, c.WechatPayKey, c.PublicKeyID, ts, nonce, body, "")
		return h
	}

	first := sign(now.Unix(), "NONCE1")
	signed, err := v.Check(first, body)
	if err != nil || signed != (Signed{Serial: c.PublicKeyID, Timestamp: now.Unix(), Nonce: "NONCE1"}) {
		t.Fatalf("first sighting: %+v, %v", signed, err)
	}
	if got := codeOf(v.Verify(first, body)); got != CodeSignatureReplayed {
		t.Errorf("the same signed response again: %s, want %s", got, CodeSignatureReplayed)
	}
	if got := codeOf(v.Verify(sign(now.Unix(), "NONCE2"), body)); got != "OK" {
		t.Errorf("another nonce: %s", got)
	}
	// A forged signature is refused as forged and takes no room.
	forged := http.Header{}
	testkit.SignWechatPay(t, forged, c.PlatformKey, c.PublicKeyID, now.Unix(), "NONCE3", body, "")
	for range 5 {
		if got := codeOf(v.Verify(forged, body)); got != CodeSignatureInvalid {
			t.Fatalf("forged: %s", got)
		}
	}
	if got := codeOf(v.Verify(sign(now.Unix()-10, "NONCE1"), body)); got != "OK" {
		t.Errorf("the same nonce at another timestamp: %s", got)
	}
	// The cap (3) is reached: new signatures are refused, replays still recognised.
	if got := codeOf(v.Verify(sign(now.Unix(), "NONCE4"), body)); got != CodeReplayWindowFull {
		t.Errorf("past the cap: %s, want %s", got, CodeReplayWindowFull)
	}
	if got := codeOf(v.Verify(first, body)); got != CodeSignatureReplayed {
		t.Errorf("a replay past the cap: %s", got)
	}
	// 300 s later the first signatures have left the window (and the
	// verifier refuses their timestamp anyway); new ones are accepted.
	now = now.Add(MaxResponseSkew)
	if got := codeOf(v.Verify(first, body)); got != CodeTimestampExpired {
		t.Errorf("the first response 300 s later: %s", got)
	}
	if got := codeOf(v.Verify(sign(now.Unix(), "NONCE4"), body)); got != "OK" {
		t.Errorf("after the window moved on: %s", got)
	}
}

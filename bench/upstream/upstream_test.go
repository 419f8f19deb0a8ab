package upstream_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
)

const serial = "PUB_KEY_ID_0114232134912410000000000000"

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// moduleVerifier checks answers as the module does: signature, timestamp,
// and the replay window (a second sighting of a (serial, timestamp, nonce)
// is refused as SIGNATURE_REPLAYED).
func moduleVerifier(k *rsa.PrivateKey) *apiv3.Verifier {
	v := apiv3.NewVerifier(map[string]*rsa.PublicKey{serial: &k.PublicKey})
	v.Window = replay.New(replay.Config{Window: apiv3.MaxResponseSkew})
	return v
}

func get(s http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v3/eduschoolpay/contracts/presign?x=1", strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// The stand-in's answers must verify exactly as WeChat Pay's would, replay
// check included, or the benchmark would measure refusals instead of the
// verified path; without a pool it signs each answer on the spot.
func TestAnswerVerifiesAndCaptures(t *testing.T) {
	k := key(t)
	s := upstream.New(k, serial)
	v := moduleVerifier(k)

	s.Capture()
	for i := range 3 {
		rec := get(s, `{"a":1}`)
		if rec.Code != http.StatusOK || rec.Body.String() != string(upstream.Body) {
			t.Fatalf("answer %d: %d %q", i, rec.Code, rec.Body.String())
		}
		if err := v.Verify(rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("answer %d does not pass the module's verifier: %v", i, err)
		}
	}
	got := s.Captured()
	if got == nil || got.URI != "/v3/eduschoolpay/contracts/presign?x=1" || string(got.Body) != `{"a":1}` {
		t.Fatalf("captured %+v", got)
	}
	if s.Requests() != 3 {
		t.Fatalf("Requests() = %d, want 3", s.Requests())
	}
}

// No answer of a presigned pool is ever sent twice: n requests (from
// concurrent clients) get n distinct (timestamp, nonce) pairs, each with its
// own signature, all accepted by the module's verifier with its replay
// window; the next request finds the pool used up and gets a 503, counted,
// instead of a signature sent again. The pool survives its text form.
func TestPoolNeverReusesAnAnswer(t *testing.T) {
	k := key(t)
	const n = 48
	signed, err := upstream.Presign(upstream.KeySigner(k), time.Now().Unix(), n, 4)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if _, err := signed.WriteTo(&text); err != nil {
		t.Fatal(err)
	}
	read, err := upstream.ReadPool(&text)
	if err != nil {
		t.Fatal(err)
	}
	for name, pool := range map[string]*upstream.Pool{"signed": signed, "read back": read} {
		t.Run(name, func(t *testing.T) {
			s := upstream.New(k, serial)
			if old := s.Serve(pool); old != nil {
				t.Fatal("a new stand-in already had a pool")
			}
			v := moduleVerifier(k)
			var mu sync.Mutex
			seen := map[string]bool{}
			sigs := map[string]bool{}
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n / 8 {
						rec := get(s, `{}`)
						if rec.Code != http.StatusOK {
							t.Errorf("answer: %d %q", rec.Code, rec.Body.String())
							return
						}
						_, err := v.Check(rec.Header(), rec.Body.Bytes())
						h := rec.Header()
						mu.Lock()
						pair := h.Get("Wechatpay-Timestamp") + " " + h.Get("Wechatpay-Nonce")
						if seen[pair] || sigs[h.Get("Wechatpay-Signature")] {
							t.Errorf("answer %s sent twice", pair)
						}
						seen[pair], sigs[h.Get("Wechatpay-Signature")] = true, true
						mu.Unlock()
						if err != nil {
							t.Errorf("answer %s refused by the module's verifier: %v", pair, err)
						}
					}
				}()
			}
			wg.Wait()
			if len(seen) != n || pool.Served() != n || pool.Missed() != 0 {
				t.Fatalf("%d distinct answers, Served %d, Missed %d; want %d, %d, 0", len(seen), pool.Served(), pool.Missed(), n, n)
			}
			for range 2 {
				if rec := get(s, `{}`); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "used up") {
					t.Fatalf("past the pool: %d %q, want 503 used up", rec.Code, rec.Body.String())
				}
			}
			if pool.Served() != n || pool.Missed() != 2 {
				t.Fatalf("Served %d, Missed %d after the pool ran out; want %d, 2", pool.Served(), pool.Missed(), n)
			}
		})
	}
}

// A Fixed pool serves one signature to everyone: the module's verifier
// refuses its second sighting, which is why the benchmark gives it only to
// proxies that do not verify answers.
func TestFixedPoolIsAReplay(t *testing.T) {
	k := key(t)
	p, err := upstream.Fixed(upstream.KeySigner(k), time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	s := upstream.New(k, serial)
	s.Serve(p)
	v := moduleVerifier(k)
	first, second := get(s, `{}`), get(s, `{}`)
	if first.Code != http.StatusOK || second.Code != http.StatusOK || p.Served() != 2 || !p.IsFixed() {
		t.Fatalf("fixed pool: %d, %d, Served %d", first.Code, second.Code, p.Served())
	}
	if err := v.Verify(first.Header(), first.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	var ve *apiv3.VerifyError
	if err := v.Verify(second.Header(), second.Body.Bytes()); !errors.As(err, &ve) || ve.Code != apiv3.CodeSignatureReplayed {
		t.Fatalf("second sighting: %v, want %s", err, apiv3.CodeSignatureReplayed)
	}
	if _, err := p.WriteTo(&bytes.Buffer{}); err == nil {
		t.Fatal("a fixed pool was written out")
	}
}

// A pool whose timestamp is about to leave WeChat Pay's 300 s is not served.
func TestStalePool(t *testing.T) {
	k := key(t)
	p, err := upstream.Presign(upstream.KeySigner(k), time.Now().Add(-upstream.StaleAfter).Unix(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := upstream.New(k, serial)
	s.Serve(p)
	if rec := get(s, `{}`); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "old") {
		t.Fatalf("stale pool: %d %q", rec.Code, rec.Body.String())
	}
	if p.Missed() != 1 || p.Served() != 0 {
		t.Fatalf("Missed %d, Served %d", p.Missed(), p.Served())
	}
	s.Serve(nil) // back to signing on the spot
	if rec := get(s, `{}`); rec.Code != http.StatusOK {
		t.Fatalf("without a pool: %d", rec.Code)
	}
}

// ReadPool refuses what WriteTo would not write: another format, a short
// pool, a nonce twice.
func TestReadPoolRefuses(t *testing.T) {
	line := "0123456789ABCDEF0000000000000000 c2ln\n"
	for name, text := range map[string]string{
		"empty":     "",
		"magic":     "something-else 1700000000 1\n" + line,
		"short":     "caddy-wechatpay-bench-pool/1 1700000000 2\n" + line,
		"duplicate": "caddy-wechatpay-bench-pool/1 1700000000 2\n" + line + line,
		"nonce":     "caddy-wechatpay-bench-pool/1 1700000000 1\nABC c2ln\n",
	} {
		if _, err := upstream.ReadPool(strings.NewReader(text)); err == nil {
			t.Errorf("%s: read", name)
		}
	}
	if p, err := upstream.ReadPool(strings.NewReader("caddy-wechatpay-bench-pool/1 1700000000 1\n" + line)); err != nil || p.Len() != 1 || p.Timestamp() != 1700000000 {
		t.Fatalf("a one-answer pool: %v", err)
	}
}

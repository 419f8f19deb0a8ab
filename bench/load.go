//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-wechatpay/caddy-wechatpay/bench/floorcrypto"
	"github.com/caddy-wechatpay/caddy-wechatpay/bench/upstream"
	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

const presignPath = floorcrypto.PresignPath

// presignBody is the reference presign request (README), in plaintext as a
// legacy app sends it; the floor and the ideal row's handler use the same.
var presignBody = floorcrypto.PresignBody

var sensitiveFields = floorcrypto.SensitiveFields

// loadStats is what one closed-loop run measured.
type loadStats struct {
	Completed  int64   `json:"completed"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	// WarmupErrors counts the wrong answers before the measured window.
	WarmupErrors     int64  `json:"warmup_errors,omitempty"`
	FirstWarmupError string `json:"first_warmup_error,omitempty"`
}

// window hooks run at the start and the end of the measured window; rate,
// when positive, paces the clients to that many requests per second in all.
type window struct {
	start, end func()
	rate       float64
}

func newClient(clients int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        clients * 2,
			MaxIdleConnsPerHost: clients * 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// runLoad runs clients closed-loop workers against url for warmup+dur,
// counting and timing the requests that complete inside the measured window.
func runLoad(client *http.Client, url string, clients int, warmup, dur time.Duration, w window) loadStats {
	const (
		warming = iota
		measuring
		stopping
	)
	var phase atomic.Int32
	var completed, errs, warmErrs atomic.Int64
	var firstErr, firstWarmErr atomic.Pointer[string]
	lats := make([][]time.Duration, clients)
	var tokens chan struct{}
	if w.rate > 0 {
		tokens = make(chan struct{}, clients)
		go func() {
			interval := time.Duration(float64(time.Second) / w.rate)
			next := time.Now()
			for phase.Load() != stopping {
				next = next.Add(interval)
				time.Sleep(time.Until(next))
				select {
				case tokens <- struct{}{}:
				default: // every client busy: the rate is not reached
				}
			}
			close(tokens)
		}()
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			mine := make([]time.Duration, 0, 4096)
			for {
				p := phase.Load()
				if p == stopping {
					break
				}
				if tokens != nil {
					if _, ok := <-tokens; !ok {
						break
					}
				}
				t0 := time.Now()
				err := doPresign(client, url, buf)
				lat := time.Since(t0)
				if ph := phase.Load(); ph != measuring {
					if err != nil && ph == warming {
						warmErrs.Add(1)
						msg := err.Error()
						firstWarmErr.CompareAndSwap(nil, &msg)
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				if err != nil {
					errs.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					time.Sleep(10 * time.Millisecond) // don't spin on a dead server
					continue
				}
				completed.Add(1)
				mine = append(mine, lat)
			}
			lats[i] = mine
		}()
	}
	time.Sleep(warmup)
	w.start()
	t0 := time.Now()
	phase.Store(measuring)
	time.Sleep(dur)
	phase.Store(stopping)
	elapsed := time.Since(t0)
	w.end()
	wg.Wait()
	client.CloseIdleConnections()

	all := slices.Concat(lats...)
	slices.Sort(all)
	st := loadStats{Completed: completed.Load(), Errors: errs.Load(), Seconds: elapsed.Seconds()}
	if p := firstErr.Load(); p != nil {
		st.FirstError = *p
	}
	if st.WarmupErrors = warmErrs.Load(); st.WarmupErrors > 0 {
		st.FirstWarmupError = *firstWarmErr.Load()
	}
	st.RPS = float64(st.Completed) / st.Seconds
	st.P50ms = quantile(all, 0.50)
	st.P99ms = quantile(all, 0.99)
	return st
}

func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// doPresign sends one presign request and checks the answer is the
// stand-in's body with status 200.
func doPresign(client *http.Client, url string, buf []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(presignBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	n, _ := io.ReadFull(resp.Body, buf)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(buf[:n], upstream.Body) {
		return fmt.Errorf("status %d, body %.200q", resp.StatusCode, buf[:n])
	}
	return nil
}

// checkRun sends one request through the server with the stand-in capturing
// it, and checks what reached "WeChat Pay": for the peer and the module, the
// five fields encrypted to their plaintext under the WeChat Pay public key
// and a valid merchant signature over exactly what was sent; for plain Caddy
// and the ideal row (whose handler does the crypto but forwards the original
// request), the body untouched.
func checkRun(client *http.Client, kind, url string, up *upstream.Server, creds *sandbox.Credentials) error {
	up.Capture()
	if err := doPresign(client, url, make([]byte, 4096)); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	return checkForwarded(kind, up.Captured(), creds)
}

// checkForwarded checks a request the stand-in captured: for plain Caddy and
// the ideal row, the reference body untouched; for any other kind, the five
// fields encrypted to their plaintext under the WeChat Pay public key, the
// other fields unchanged, Wechatpay-Serial naming the key and a valid
// merchant signature over exactly what was sent.
func checkForwarded(kind string, got *upstream.Request, creds *sandbox.Credentials) error {
	if got == nil {
		return errors.New("the stand-in saw no request")
	}
	if kind == "caddy" || kind == "ideal" {
		if !bytes.Equal(got.Body, presignBody) {
			return fmt.Errorf("%s changed the body", map[string]string{"caddy": "plain Caddy", "ideal": "the ideal row (Caddy + bench_ideal)"}[kind])
		}
		return nil
	}
	if s := got.Header.Get("Wechatpay-Serial"); s != creds.PublicKeyID {
		return fmt.Errorf("Wechatpay-Serial %q, want %q", s, creds.PublicKeyID)
	}
	for _, f := range sensitiveFields {
		ct, err := base64.StdEncoding.DecodeString(gjson.GetBytes(got.Body, f).String())
		if err != nil {
			return fmt.Errorf("%s is not base64 ciphertext", f)
		}
		plain, err := rsa.DecryptOAEP(sha1.New(), nil, creds.PublicKeyPrivateKey, ct, nil)
		if err != nil {
			return fmt.Errorf("%s does not decrypt: %v", f, err)
		}
		if want := gjson.GetBytes(presignBody, f).String(); string(plain) != want {
			return fmt.Errorf("%s decrypts to something else", f)
		}
	}
	for _, f := range []string{"appid", "plan_id", "out_contract_code"} {
		if gjson.GetBytes(got.Body, f).Raw != gjson.GetBytes(presignBody, f).Raw {
			return fmt.Errorf("non-sensitive field %s changed", f)
		}
	}
	return checkAuthorization(got, creds)
}

func checkAuthorization(got *upstream.Request, creds *sandbox.Credentials) error {
	auth := got.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "WECHATPAY2-SHA256-RSA2048 ")
	if !ok {
		return fmt.Errorf("the Authorization header %.40q has the wrong scheme", auth)
	}
	params := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		params[k] = strings.Trim(v, `"`)
	}
	if params["mchid"] != creds.MchID || params["serial_no"] != creds.MerchantSerial {
		return errors.New("the Authorization header names the wrong merchant or serial")
	}
	sig, err := base64.StdEncoding.DecodeString(params["signature"])
	if err != nil {
		return errors.New("the Authorization header's signature is not base64")
	}
	msg := got.Method + "\n" + got.URI + "\n" + params["timestamp"] + "\n" + params["nonce_str"] + "\n" + string(got.Body) + "\n"
	sum := sha256.Sum256([]byte(msg))
	pub := creds.MerchantCertificate.PublicKey.(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("the Authorization header's signature does not verify over what was sent")
	}
	return nil
}

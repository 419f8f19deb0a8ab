package wechatpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/bill"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// billUpstream answers the list call signed (with the digest of bill) and
// the download with file.
func billUpstream(t *testing.T, hash string, file []byte, downloads *atomic.Int32) caddyhttp.Handler {
	list := signedAnswer(t, nil, `{"hash_type":"SHA1","hash_value":"`+hash+`","download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=T0K"}`)
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Path == "/v3/billdownload/file" {
			downloads.Add(1)
			_, err := w.Write(file)
			return err
		}
		return list.ServeHTTP(w, r)
	})
}

func sha1Of(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestServeHTTPBillRecordExpires: a download within the record's life
// passes; the same download once the record expired is refused without
// going upstream.
func TestServeHTTPBillRecordExpires(t *testing.T) {
	h, logs := provisionedHandler(t, "")
	clock := time.Now()
	h.bills = bill.NewStore(nil, "test", func() time.Time { return clock })
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("交易时间,商户号\r\n`2026-12-07 10:00:00,`1900000001\r\n"))
	zw.Close()
	var downloads atomic.Int32
	up := billUpstream(t, sha1Of([]byte("交易时间,商户号\r\n`2026-12-07 10:00:00,`1900000001\r\n")), buf.Bytes(), &downloads)

	if w := call(t, h, "GET", "/v3/bill/tradebill?bill_date=2026-12-07&tar_type=GZIP", "", up); w.Code != 200 {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	w := call(t, h, "GET", "/v3/billdownload/file?token=T0K", "", up)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), buf.Bytes()) || w.Header().Get(billVerdictHeader) != "sha1=bill" {
		t.Fatalf("download: %d %q %s", w.Code, w.Header().Get(billVerdictHeader), w.Body)
	}
	clock = clock.Add(billTTL + time.Second)
	w = call(t, h, "GET", "/v3/billdownload/file?token=T0K", "", up)
	if w.Code != 502 || !strings.Contains(w.Body.String(), codeBillUnverified) {
		t.Fatalf("download after the record expired: %d %s", w.Code, w.Body)
	}
	if n := downloads.Load(); n != 1 {
		t.Errorf("%d downloads went upstream, want 1 (the expired one must not)", n)
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, "T0K") || strings.Contains(f.String, "交易时间") {
				t.Errorf("log %q field %s holds the token or a bill value: %q", e.Message, f.Key, f.String)
			}
		}
	}
}

func TestProvisionMaxBillSize(t *testing.T) {
	h, _ := provisionedHandler(t, "")
	if h.MaxBillSize != defaultMaxBillSize {
		t.Errorf("max_bill_size default %d, want %d", h.MaxBillSize, int64(defaultMaxBillSize))
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h = &Handler{MaxBillSize: -1}
	if err := h.provisionBills(ctx); err == nil || !strings.Contains(err.Error(), "max_bill_size") {
		t.Errorf("a negative max_bill_size: %v", err)
	}
}

// TestServeHTTPEncryptedBill: a sub-merchant bill (key sealed with the
// official SDK, file sealed with Go's GCM and a 16-character nonce) passes
// as ciphertext without decrypt_responses and as the gzip plaintext with
// it; a changed byte fails GCM and is refused.
func TestServeHTTPEncryptedBill(t *testing.T) {
	text := []byte("记账时间,微信支付业务单号\r\n`2026-12-07 10:00:00,`4200000000\r\n")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(text)
	zw.Close()
	key, nonce := "0123456789abcdefABCDEF0123456789", "a8607ef79034c49c"
	block, _ := aes.NewCipher([]byte(key))
	gcm, _ := cipher.NewGCMWithNonceSize(block, len(nonce))
	ct := gcm.Seal(nil, []byte(nonce), buf.Bytes(), nil)
	answer := `{"download_bill_count":1,"download_bill_list":[{"bill_sequence":1,"download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=ENC",` +
		`"encrypt_key":"` + testkit.SealForMerchant(t, key) + `","hash_type":"SHA1","hash_value":"` + sha1Of(text) + `","nonce":"` + nonce + `"}]}`
	for _, tc := range []struct {
		name, extra string
		file, want  []byte
		verdict     string
	}{
		{"ciphertext passed", "", ct, ct, "sha1=bill"},
		{"decrypted", `,"decrypt_responses":true`, ct, buf.Bytes(), "sha1=bill; decrypted"},
		{"changed", `,"decrypt_responses":true`, append(bytes.Clone(ct[:len(ct)-1]), ct[len(ct)-1]^1), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := provisionedHandler(t, tc.extra)
			list := signedAnswer(t, nil, answer)
			up := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				if r.URL.Path == "/v3/billdownload/file" {
					_, err := w.Write(tc.file)
					return err
				}
				return list.ServeHTTP(w, r)
			})
			if w := call(t, h, "GET", "/v3/bill/sub-merchant-fundflowbill?sub_mchid=1900000002&bill_date=2026-12-07&account_type=BASIC&algorithm=AEAD_AES_256_GCM&tar_type=GZIP", "", up); w.Code != 200 {
				t.Fatalf("list: %d %s", w.Code, w.Body)
			}
			w := call(t, h, "GET", "/v3/billdownload/file?token=ENC", "", up)
			if tc.want == nil {
				if w.Code != 502 || !strings.Contains(w.Body.String(), codeBillHashMismatch) {
					t.Fatalf("a changed encrypted bill: %d %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), tc.want) || w.Header().Get(billVerdictHeader) != tc.verdict {
				t.Fatalf("%d %q, body equal %v", w.Code, w.Header().Get(billVerdictHeader), bytes.Equal(w.Body.Bytes(), tc.want))
			}
		})
	}
}

// TestBillRecordsScopedByMerchantNumber: the records are kept under the
// merchant number as resolved, not the option's text: with mchid
// {env.X}, every instance of every merchant had the same scope, and a
// record of one merchant was another's.
func TestBillRecordsScopedByMerchantNumber(t *testing.T) {
	c := testkit.Creds()
	t.Setenv("TEST_BILL_MCHID", c.MchID)
	ctx, _ := newConfigContext(t)
	h := new(Handler)
	cfg := strings.Replace(handlerJSON(t, ""), `"mchid":"`+c.MchID+`"`, `"mchid":"{env.TEST_BILL_MCHID}"`, 1)
	provisionIn(t, ctx, h, cfg)
	if got := h.bills.Scope(); got != c.MchID {
		t.Errorf("bill records scoped by %q, want the merchant number %s", got, c.MchID)
	}
}

// TestEncryptedBillsOpenOneAtATime: while one encrypted bill is open in
// memory, another waits for its turn, and gives up when its app goes away.
func TestEncryptedBillsOpenOneAtATime(t *testing.T) {
	release, err := openingEncryptedBill(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := openingEncryptedBill(ctx); err == nil {
		t.Fatal("a second encrypted bill was opened while the first was")
	}
	release()
	again, err := openingEncryptedBill(context.Background())
	if err != nil {
		t.Fatal("the turn was not given back")
	}
	again()
}

package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// downloadURI is the path and query of a download_url.
func downloadURI(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Path != BillDownloadPath {
		t.Fatalf("download_url %q", raw)
	}
	return u.RequestURI()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha1Of(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestPlainBills(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ path, query string }{
		{TradeBillPath, "bill_date=2026-12-07&bill_type=ALL"},
		{TradeBillPath, "bill_date=2026-12-07&bill_type=ALL&tar_type=GZIP"},
		{FundFlowBillPath, "bill_date=2026-12-07&account_type=BASIC&tar_type=GZIP"},
	} {
		resp, rb := h.do(t, rawRequest{method: "GET", uri: tc.path + "?" + tc.query})
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, rb)
		}
		if err := validate(resp, rb); err != nil {
			t.Fatalf("%s: the list answer is not signed: %v", tc.path, err)
		}
		ans := gjson.ParseBytes(rb)
		if ans.Get("hash_type").String() != "SHA1" {
			t.Errorf("hash_type %q", ans.Get("hash_type"))
		}
		resp, file := h.do(t, rawRequest{method: "GET", uri: downloadURI(t, ans.Get("download_url").String())})
		if resp.StatusCode != 200 || resp.Header.Get("Wechatpay-Signature") != "" {
			t.Fatalf("download %d, signature %q", resp.StatusCode, resp.Header.Get("Wechatpay-Signature"))
		}
		bill := file
		if strings.Contains(tc.query, "GZIP") {
			bill = gunzip(t, file)
		}
		if got := sha1Of(bill); got != ans.Get("hash_value").String() {
			t.Errorf("%s %s: SHA1 of the bill %s, hash_value %s", tc.path, tc.query, got, ans.Get("hash_value"))
		}
		if !bytes.Contains(bill, []byte("2026-12-07")) {
			t.Errorf("the bill is not of the date asked for")
		}
	}
	if resp, _ := h.do(t, rawRequest{method: "GET", uri: TradeBillPath + "?bill_date=yesterday"}); resp.StatusCode != 400 {
		t.Errorf("a malformed bill_date: %d", resp.StatusCode)
	}
}

// TestSubMerchantBillEncrypted opens the encrypted bill with the official
// SDK: encrypt_key with the merchant key (RSA-OAEP), the file with its
// AES-256-GCM helper where the nonce allows (it takes 12 bytes only; the
// sandbox's are 16 as in WeChat Pay's example, so Go's GCM opens it here).
func TestSubMerchantBillEncrypted(t *testing.T) {
	h := newHarness(t, nil)
	resp, rb := h.do(t, rawRequest{method: "GET", uri: SubMerchantFundFlowBillPath + "?sub_mchid=1900000001&bill_date=2026-12-07&account_type=BASIC&algorithm=AEAD_AES_256_GCM&tar_type=GZIP"})
	if resp.StatusCode != 200 || validate(resp, rb) != nil {
		t.Fatalf("%d %s", resp.StatusCode, rb)
	}
	part := gjson.GetBytes(rb, "download_bill_list.0")
	key, err := utils.DecryptOAEP(part.Get("encrypt_key").String(), creds.MerchantPrivateKey)
	if err != nil || len(key) != 32 {
		t.Fatalf("encrypt_key: %v (%d bytes)", err, len(key))
	}
	nonce := part.Get("nonce").String()
	_, file := h.do(t, rawRequest{method: "GET", uri: downloadURI(t, part.Get("download_url").String())})
	plain := openGCM(t, key, nonce, file)
	if got := sha1Of(gunzip(t, plain)); got != part.Get("hash_value").String() {
		t.Errorf("SHA1 of the decrypted bill %s, hash_value %s", got, part.Get("hash_value"))
	}
	if len(nonce) == 12 {
		sdk, err := utils.DecryptAES256GCM(key, "", nonce, base64.StdEncoding.EncodeToString(file))
		if err != nil || sdk != string(plain) {
			t.Errorf("the SDK opens it otherwise: %v", err)
		}
	}
}

func TestCorruptBillFault(t *testing.T) {
	h := newHarness(t, nil)
	_, rb := h.do(t, rawRequest{method: "GET", uri: TradeBillPath + "?bill_date=2026-12-07"})
	ans := gjson.ParseBytes(rb)
	h.srv.SetFaults(Faults{CorruptBill: true})
	_, file := h.do(t, rawRequest{method: "GET", uri: downloadURI(t, ans.Get("download_url").String())})
	if sha1Of(file) == ans.Get("hash_value").String() {
		t.Fatal("the corrupted bill still matches its digest")
	}
}

// openGCM opens AES-256-GCM ciphertext (tag appended) with the nonce
// string's bytes and empty associated data.
func openGCM(t *testing.T, key, nonce string, ct []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := g.Open(nil, []byte(nonce), ct, nil)
	if err != nil {
		t.Fatal("GCM:", err)
	}
	return plain
}

package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The bill list endpoints the sandbox answers with bills it generates.
const (
	// TradeBillPath asks for a trade bill (GET; bill_date, bill_type,
	// tar_type=GZIP optional).
	TradeBillPath = "/v3/bill/tradebill"
	// FundFlowBillPath asks for a fund flow bill (GET; bill_date,
	// account_type, tar_type).
	FundFlowBillPath = "/v3/bill/fundflowbill"
	// SubMerchantFundFlowBillPath asks for a sub-merchant's fund flow bill
	// (GET; sub_mchid, bill_date, account_type, algorithm=AEAD_AES_256_GCM,
	// tar_type): its file is encrypted as WeChat Pay documents.
	SubMerchantFundFlowBillPath = "/v3/bill/sub-merchant-fundflowbill"
)

// billDownloadTTL is how long a download URL the sandbox issued works, as
// WeChat Pay documents for bill downloads (5 minutes).
const billDownloadTTL = 5 * time.Minute

// issuedBill is a file a list answer named, served at its token.
type issuedBill struct {
	file    []byte
	expires time.Time
}

// issuedBills are the files of the download URLs issued, by token (random,
// so one map serves every Server).
var issuedBills = struct {
	sync.Mutex
	m map[string]issuedBill
}{m: map[string]issuedBill{}}

func issueBill(file []byte, now time.Time) string {
	token := randomNonce(40)
	issuedBills.Lock()
	defer issuedBills.Unlock()
	for k, b := range issuedBills.m {
		if now.After(b.expires) {
			delete(issuedBills.m, k)
		}
	}
	issuedBills.m[token] = issuedBill{file: file, expires: now.Add(billDownloadTTL)}
	return token
}

// issuedFile returns the file of a token the sandbox issued, if it is
// still valid.
func issuedFile(token string, now time.Time) ([]byte, bool) {
	issuedBills.Lock()
	defer issuedBills.Unlock()
	b, ok := issuedBills.m[token]
	if !ok || now.After(b.expires) {
		return nil, false
	}
	return b.file, true
}

// billRoute returns the handler of a bill list path, nil for another path.
func billRoute(path string) func(*Server, *request) *answer {
	switch path {
	case TradeBillPath:
		return func(s *Server, req *request) *answer { return s.plainBill(req, "trade") }
	case FundFlowBillPath:
		return func(s *Server, req *request) *answer { return s.plainBill(req, "fundflow") }
	case SubMerchantFundFlowBillPath:
		return (*Server).subMerchantBill
	}
	return nil
}

// generateBill writes a bill of the kind for the merchant and date: a
// header line, detail lines whose every field starts with `, and the
// summary, as WeChat Pay's bills are laid out.
func generateBill(kind, mchID, date string, lines int) []byte {
	var b strings.Builder
	b.WriteString("\uFEFF")
	switch kind {
	case "trade":
		b.WriteString("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,手续费,费率\r\n")
		for i := range lines {
			fmt.Fprintf(&b, "`%s %02d:%02d:00,`wx8888888888888888,`%s,`0,`,`42000000%s%010d,`SANDBOX%06d,`oUpF8uMuAJOM2pxb1Q,`NATIVE,`SUCCESS,`OTHERS,`CNY,`%d.%02d,`0.00,`sandbox,`0.00000,`0.60%%\r\n",
				date, 9+i/60%12, i%60, mchID, strings.ReplaceAll(date, "-", ""), i, i, 1+i%50, i%100)
		}
		b.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
		fmt.Fprintf(&b, "`%d,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00\r\n", lines)
	default:
		b.WriteString("记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\r\n")
		for i := range lines {
			fmt.Fprintf(&b, "`%s %02d:%02d:00,`42000000%010d,`1900%012d,`交易,`交易,`收入,`%d.%02d,`%d.00,`system,`%s,`SANDBOX%06d\r\n",
				date, 9+i/60%12, i%60, i, i, 1+i%50, i%100, 1000+i, mchID, i)
		}
		b.WriteString("资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n")
		fmt.Fprintf(&b, "`%d,`%d,`0.00,`0,`0.00\r\n", lines, lines)
	}
	return []byte(b.String())
}

// sandboxBillLines is how many detail lines a generated bill has.
const sandboxBillLines = 24

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// billDate reads bill_date (yyyy-MM-dd), answering WeChat Pay's
// PARAM_ERROR when it is missing or malformed.
func billDate(req *request) (string, *answer) {
	d := req.r.URL.Query().Get("bill_date")
	if _, err := time.Parse("2006-01-02", d); err != nil {
		req.x.step("bill_date", false, fmt.Sprintf("%q is not yyyy-MM-dd", d))
		return "", paramError("bill_date格式错误，应为yyyy-MM-dd", fieldDetail("query", "bill_date", "invalid"))
	}
	return d, nil
}

// plainBill answers a trade or fund flow bill request: the digest of the
// bill (before compression, as WeChat Pay documents hash_value) and a
// download URL valid 5 minutes.
func (s *Server) plainBill(req *request, kind string) *answer {
	date, a := billDate(req)
	if a != nil {
		return a
	}
	bill := generateBill(kind, s.cfg.MchID, date, sandboxBillLines)
	file, tar := bill, req.r.URL.Query().Get("tar_type")
	if tar == "GZIP" {
		file = gzipBytes(bill)
	}
	token := issueBill(file, s.now())
	req.x.step("answer", true, fmt.Sprintf("%s bill of %s, %d bytes (tar_type %q), SHA1 of the bill", kind, date, len(file), tar))
	return jsonAnswer(http.StatusOK, map[string]any{
		"hash_type":    "SHA1",
		"hash_value":   sha1Hex(bill),
		"download_url": "https://api.mch.weixin.qq.com" + BillDownloadPath + "?token=" + token,
	})
}

// subMerchantBill answers a sub-merchant fund flow bill request: the file
// is the bill (gzip with tar_type=GZIP) encrypted with AES-256-GCM under a
// fresh 32-byte key, the nonce string's bytes as the nonce, empty
// associated data, the tag appended; the key travels RSA-OAEP encrypted for
// the merchant certificate (encrypt_key), as WeChat Pay documents it.
func (s *Server) subMerchantBill(req *request) *answer {
	date, a := billDate(req)
	if a != nil {
		return a
	}
	q := req.r.URL.Query()
	if alg := q.Get("algorithm"); alg != "AEAD_AES_256_GCM" {
		req.x.step("algorithm", false, fmt.Sprintf("%q: the sandbox encrypts with AEAD_AES_256_GCM only", alg))
		return paramError("algorithm无效", fieldDetail("query", "algorithm", "AEAD_AES_256_GCM only"))
	}
	if q.Get("sub_mchid") == "" {
		return paramError("缺少sub_mchid", fieldDetail("query", "sub_mchid", "missing"))
	}
	bill := generateBill("fundflow", q.Get("sub_mchid"), date, sandboxBillLines)
	plain := bill
	if q.Get("tar_type") == "GZIP" {
		plain = gzipBytes(bill)
	}
	key, nonce := randomNonce(32), strings.ToLower(randomHex(8))
	block, err := aes.NewCipher([]byte(key))
	var gcm cipher.AEAD
	if err == nil {
		gcm, err = cipher.NewGCMWithNonceSize(block, len(nonce))
	}
	var encryptKey string
	if err == nil {
		encryptKey, err = encryptOAEP(certKey(s.cfg.MerchantCertificate), key)
	}
	if err != nil {
		req.x.step("answer", false, "encrypting the bill failed: "+err.Error())
		return errorAnswer(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误", nil)
	}
	file := gcm.Seal(nil, []byte(nonce), plain, nil)
	token := issueBill(file, s.now())
	req.x.step("answer", true, fmt.Sprintf("sub-merchant fund flow bill of %s, %d bytes encrypted (AES-256-GCM, key for merchant certificate %s)", date, len(file), s.merchantSerial))
	return jsonAnswer(http.StatusOK, map[string]any{
		"download_bill_count": 1,
		"download_bill_list": []map[string]any{{
			"bill_sequence": 1,
			"download_url":  "https://api.mch.weixin.qq.com" + BillDownloadPath + "?token=" + token,
			"encrypt_key":   encryptKey,
			"hash_type":     "SHA1",
			"hash_value":    sha1Hex(bill),
			"nonce":         nonce,
		}},
	})
}

// issuedDownload serves the file of a token a list answer issued (with
// Faults.CorruptBill, one byte of it changed); nil when the token is not
// one, and the sample bill is served as before.
func (s *Server) issuedDownload(req *request) *answer {
	file, ok := issuedFile(req.r.URL.Query().Get("token"), s.now())
	if !ok {
		return nil
	}
	note := fmt.Sprintf("issued bill file, %d bytes, unsigned", len(file))
	if s.Faults().CorruptBill && len(file) > 0 {
		file = bytes.Clone(file)
		file[len(file)/2] ^= 0x20
		note += "; fault CorruptBill: one byte changed"
	}
	req.x.step("answer", true, note)
	return &answer{status: http.StatusOK, body: file, contentType: "application/octet-stream", unsigned: true}
}

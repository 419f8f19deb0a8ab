package wechatpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/bill"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Bills: every verified 2xx answer that names downloads (download_url with
// hash_type and hash_value, and for an encrypted bill encrypt_key and
// nonce) is recorded, in memory and in Caddy's storage; a GET of a recorded
// URL is fetched whole, checked against the record and only then passed on
// (decrypted, with decrypt_responses, when WeChat Pay encrypted it). See
// docs/bills.md.

const (
	// billTTL is how long a record counts: WeChat Pay keeps a download URL
	// valid 5 minutes (30 seconds, some pages say), plus a margin.
	billTTL = 6 * time.Minute
	// defaultMaxBillSize is max_bill_size's default.
	defaultMaxBillSize = 4 << 30
	// billSpoolMemory is how much of a download is held in memory before
	// it goes to a temporary file.
	billSpoolMemory = 1 << 20
	// billSweepEvery is how often the expired records are swept from the
	// storage.
	billSweepEvery = 10 * time.Minute
	// billDownloadPrefix is the path of WeChat Pay's bill downloads: a
	// download under it without a record is refused (unless skip_verify
	// names it).
	billDownloadPrefix = "/v3/billdownload/"
)

// billSpoolDir is where spools go past billSpoolMemory; empty for
// os.TempDir().
var billSpoolDir = ""

// provisionBills sets max_bill_size's default and the handler's records.
func (h *Handler) provisionBills(ctx caddy.Context) error {
	if h.MaxBillSize < 0 {
		return errors.New("max_bill_size must not be negative")
	}
	if h.MaxBillSize == 0 {
		h.MaxBillSize = defaultMaxBillSize
	}
	// The merchant number as resolved (mchid may be a placeholder), so
	// that instances of one merchant share records and no two merchants do.
	scope := h.keys().signer.MchID
	var storage bill.Storage
	if st := contextStorage(ctx); st != nil {
		storage = st
	}
	h.bills = bill.NewStore(storage, scope, time.Now)
	h.billsCtx = ctx
	return nil
}

// recordBills records the downloads a verified answer names, before the
// answer reaches the app, so that its download may follow at once, through
// this instance or another on the same storage.
func (h *Handler) recordBills(r *http.Request, body []byte, status int) {
	if h.bills == nil || status < 200 || status >= 300 || !bytes.Contains(body, []byte(`"download_url"`)) {
		return
	}
	records, skipped := bill.Find(body, billTTL, time.Now())
	if skipped > 0 {
		h.logger.Warn("a verified answer names a download that cannot be checked (no SHA1 hash_value, or encrypt_key without nonce); its download will be refused",
			zap.String("path", r.URL.Path), zap.Int("downloads", skipped))
	}
	if len(records) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := h.bills.Put(ctx, records); err != nil {
		h.logger.Warn("bill records could not be stored: their downloads are verified by this instance only",
			zap.String("path", r.URL.Path), zap.Error(err))
	}
	if h.bills.SweepDue(billSweepEvery) && h.billsCtx != nil {
		go func() {
			sctx, cancel := context.WithTimeout(h.billsCtx, time.Minute)
			defer cancel()
			if n, err := h.bills.Sweep(sctx); err != nil || n > 0 {
				h.logger.Debug("swept expired bill records", zap.Int("removed", n), zap.Error(err))
			}
		}()
	}
}

// billRecord returns the record of a download request, found false when it
// has none. The storage is asked only for a download path or a URL with a
// token, so that other GET calls cost no storage read.
func (h *Handler) billRecord(r *http.Request) (rec bill.Record, found bool, err error) {
	if h.bills == nil || r.Method != http.MethodGet {
		return bill.Record{}, false, nil
	}
	// Every GET passes here: a request that cannot be a download costs
	// no key, no query parsing and no storage read.
	if !strings.HasPrefix(r.URL.Path, billDownloadPrefix) &&
		!(strings.Contains(r.URL.RawQuery, "token") && r.URL.Query().Has("token")) {
		return bill.Record{}, false, nil
	}
	key, err := bill.KeyOf(r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		return bill.Record{}, false, nil
	}
	return h.bills.Get(r.Context(), key)
}

// serveBillDownload answers a GET of a recorded download, or of the bill
// download path without a record (refused); done is false for any other
// request, which goes on as usual.
func (h *Handler) serveBillDownload(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, keys *keySet, start time.Time, upstream *upstreamTimer) (done bool, err error) {
	rec, found, serr := h.billRecord(r)
	if serr != nil {
		h.logger.Error("reading the bill records failed", zap.String("path", r.URL.Path), zap.Error(serr))
		return true, h.refuse(w, r, &apiError{status: http.StatusBadGateway, code: codeProxyError, message: "the proxy could not read its bill records"})
	}
	if !found {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, billDownloadPrefix) {
			return true, h.refuse(w, r, &apiError{status: http.StatusBadGateway, code: codeBillUnverified,
				message: "this download URL was not named by a bill answer verified through this proxy (or its cluster), or it expired: ask for the bill (GET /v3/bill/tradebill, fundflowbill, ...) through the proxy first, then download within 5 minutes"})
		}
		return false, nil
	}
	// The file is checked as WeChat Pay sends it: no content coding
	// between (the header is not signed).
	r.Header.Del("Accept-Encoding")
	spool := bill.NewSpool(billSpoolDir, billSpoolMemory, h.MaxBillSize)
	defer spool.Close() // also when the app went away
	resp := &billResponse{header: w.Header().Clone(), spool: spool}
	if !rec.Encrypted() {
		// A plain bill is digested as it arrives: the check is done with
		// its last byte (an encrypted one is opened whole, afterwards).
		resp.digest = bill.NewDigest()
		defer resp.digest.Abort()
	}
	began := time.Now()
	nerr := serveNext(resp, r, next)
	upstream.stop(began)
	if errors.Is(spool.Err(), bill.ErrTooLarge) {
		return true, h.refuse(w, r, &apiError{status: http.StatusBadGateway, code: codeBillTooLarge,
			message: "the bill is larger than max_bill_size (" + strconv.FormatInt(h.MaxBillSize, 10) + " bytes); raise max_bill_size to download it"})
	}
	if spool.Err() != nil {
		h.logger.Error("spooling a bill failed", zap.String("path", r.URL.Path), zap.Error(spool.Err()))
		return true, h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: codeProxyError, message: "the proxy could not hold the bill to check it"})
	}
	if errors.Is(nerr, errAborted) || nerr == nil && resp.truncated() {
		return true, h.refuse(w, r, &apiError{status: http.StatusBadGateway, code: codeUpstreamIncomplete, message: "WeChat Pay's bill was cut short"})
	}
	if ae := upstreamError(nerr); ae != nil {
		return true, h.refuse(w, r, ae)
	}
	if resp.status != http.StatusOK {
		return true, h.refuse(w, r, h.billDownloadFailed(resp, keys))
	}
	coded := resp.header.Get("Content-Encoding") != ""
	spool, ae := h.decodedBill(resp, spool)
	if ae != nil {
		return true, h.refuse(w, r, ae)
	}
	defer spool.Close()
	if rec.Encrypted() {
		// Opened whole in memory (about twice its size) until sent: one
		// at a time in the process, so that downloads at once cannot
		// add up past what one bill takes.
		release, err := openingEncryptedBill(r.Context())
		if err != nil {
			h.logger.Info("the app went away while an encrypted bill waited its turn", zap.String("path", r.URL.Path))
			h.metrics.request(r, codeClientClosedRequest)
			return true, nil
		}
		defer release()
	}
	var res *bill.Result
	var verr error
	if resp.digest != nil && !coded {
		res, verr = bill.CheckDigest(&rec, resp.digest.Finish())
	} else {
		opener := func(b64 []byte) ([]byte, error) { return keys.decrypter.DecryptValue(b64) }
		res, verr = bill.Verify(&rec, spool, opener)
	}
	if verr != nil {
		if !errors.Is(verr, bill.ErrMismatch) && !errors.Is(verr, bill.ErrDecrypt) {
			h.logger.Error("reading a spooled bill failed", zap.String("path", r.URL.Path), zap.Error(verr))
			return true, h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: codeProxyError, message: "the proxy could not read the bill back to check it"})
		}
		h.logger.Error("a bill failed its check", zap.String("path", r.URL.Path), zap.Int64("bill_sequence", rec.Sequence),
			zap.Int64("size", spool.Size()), zap.Bool("encrypted", rec.Encrypted()), zap.String("reason", verr.Error()),
			zap.String("request_id", resp.header.Get("Request-ID")))
		return true, h.refuse(w, r, &apiError{status: http.StatusBadGateway, code: codeBillHashMismatch,
			message: verr.Error() + "; no byte of it is passed on: ask for the bill again"})
	}
	result := "bill verified (" + res.Covered + ")"
	dst := w.Header()
	proxyhttp.CopyPassedHeaders(dst, resp.header, passedBillHeader)
	dst.Del("Content-Encoding")
	dst.Del("Transfer-Encoding")
	dst.Set(billVerdictHeader, "sha1="+res.Covered)
	var body io.WriterTo = spool
	size := spool.Size()
	if res.Plain != nil && h.DecryptResponses {
		body, size, result = bytes.NewReader(res.Plain), int64(len(res.Plain)), result+", decrypted"
		dst.Set(billVerdictHeader, "sha1="+res.Covered+"; decrypted")
	}
	dst.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := body.WriteTo(w); err != nil {
		h.logger.Info("the app went away during a bill download", zap.String("path", r.URL.Path))
		h.metrics.request(r, codeClientClosedRequest)
		return true, nil
	}
	h.metrics.request(r, metriclabels.Verified)
	h.logForwarded(r, nil, 0, start, result)
	return true, nil
}

// decodedBill returns the spool of the bill without its content coding:
// the spool itself when it has none, or a new one holding the decoded
// bytes (which the caller closes; closing the same spool twice is fine).
// The digest and the app are for the file WeChat Pay serves, not for a
// coding put on it in transit.
func (h *Handler) decodedBill(resp *billResponse, spool *bill.Spool) (*bill.Spool, *apiError) {
	enc := strings.ToLower(strings.TrimSpace(resp.header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return spool, nil
	case "gzip", "x-gzip":
	default:
		return nil, &apiError{status: http.StatusBadGateway, code: codeResponseUnreadable,
			message: "WeChat Pay's bill has Content-Encoding " + strconv.Quote(enc) + ", which the proxy cannot decode to check it"}
	}
	src, err := spool.Reader()
	var zr *gzip.Reader
	if err == nil {
		zr, err = gzip.NewReader(src)
	}
	decoded := bill.NewSpool(billSpoolDir, billSpoolMemory, h.MaxBillSize)
	if err == nil {
		_, err = io.Copy(decoded, zr)
	}
	if err != nil {
		_ = decoded.Close()
		if errors.Is(err, bill.ErrTooLarge) {
			return nil, &apiError{status: http.StatusBadGateway, code: codeBillTooLarge,
				message: "the bill, decoded, is larger than max_bill_size (" + strconv.FormatInt(h.MaxBillSize, 10) + " bytes); raise max_bill_size to download it"}
		}
		return nil, &apiError{status: http.StatusBadGateway, code: codeResponseUnreadable, message: "WeChat Pay's gzip-coded bill could not be decoded"}
	}
	resp.header.Del("Content-Encoding")
	return decoded, nil
}

// billVerdictHeader tells the app what the proxy checked of a bill it
// passed on.
const billVerdictHeader = "Wechatpay-Proxy-Bill"

// billDownloadFailed is the refusal of a download WeChat Pay answered with
// another status than 200: its signed error answer, verified, is quoted.
func (h *Handler) billDownloadFailed(resp *billResponse, keys *keySet) *apiError {
	requestID := resp.header.Get("Request-ID")
	msg := "WeChat Pay answered the bill download with " + strconv.Itoa(resp.status)
	if proxyhttp.HasSignature(resp.header) && resp.small.Len() > 0 && !resp.smallOverflow {
		if _, err := keys.verifier.Check(resp.header, resp.small.Bytes()); err == nil {
			var e errorBody
			if json.Unmarshal(resp.small.Bytes(), &e) == nil && e.Code != "" {
				return &apiError{status: resp.status, code: e.Code, message: e.Message}
			}
		}
	}
	if requestID != "" {
		msg += " (Request-ID " + requestID + ")"
	}
	status := resp.status
	if status < 400 {
		status = http.StatusBadGateway
	}
	return &apiError{status: status, code: codeUpstreamError, message: msg}
}

// passedBillHeader reports whether a header of a verified bill download
// reaches the app.
func passedBillHeader(k string) bool {
	return k == "Content-Disposition" || proxyhttp.PassedUpstreamHeader(k)
}

// billResponse takes a download from reverse_proxy: a 200's body into the
// spool, any other status's (an error answer) into a small buffer.
type billResponse struct {
	header        http.Header
	late          http.Header
	status        int
	wroteHeader   bool
	spool         *bill.Spool
	digest        *bill.Digest // a plain bill's, as it arrives; nil for an encrypted one
	small         bytes.Buffer
	smallOverflow bool
}

// Header implements http.ResponseWriter; what is set after the status
// (trailers) is never read.
func (b *billResponse) Header() http.Header {
	if !b.wroteHeader {
		return b.header
	}
	if b.late == nil {
		b.late = make(http.Header)
	}
	return b.late
}

// WriteHeader implements http.ResponseWriter.
func (b *billResponse) WriteHeader(status int) {
	if b.wroteHeader || status < 200 {
		return
	}
	b.status, b.wroteHeader = status, true
}

// Write implements http.ResponseWriter. Past max_bill_size it fails, so
// that reverse_proxy stops reading.
func (b *billResponse) Write(p []byte) (int, error) {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	if b.status == http.StatusOK {
		n, err := b.spool.Write(p)
		if b.digest != nil {
			_, _ = b.digest.Write(p[:n])
		}
		return n, err
	}
	if b.small.Len()+len(p) > proxyhttp.MaxResponseBody {
		b.smallOverflow = true
		return 0, proxyhttp.ErrResponseTooLarge
	}
	return b.small.Write(p)
}

// Flush is a no-op: nothing is sent before the check.
func (b *billResponse) Flush() {}

// truncated reports whether the upstream declared a longer body than it
// sent.
func (b *billResponse) truncated() bool {
	cl := b.header.Get("Content-Length")
	if cl == "" {
		return false
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	return err == nil && n != b.spool.Size()
}

// contextStorage returns Caddy's storage of ctx, or nil for a context that
// belongs to no loaded configuration (caddy.Context.Storage panics on one:
// a handler provisioned on its own, by a test or a tool, keeps its records
// in memory).
func contextStorage(ctx caddy.Context) (st certmagic.Storage) {
	defer func() {
		if recover() != nil {
			st = nil
		}
	}()
	return ctx.Storage()
}

// encryptedBillTurn lets one encrypted bill at a time be opened in memory.
var encryptedBillTurn = make(chan struct{}, 1)

// openingEncryptedBill waits for the turn to open an encrypted bill, while
// ctx lasts; release gives the turn back.
func openingEncryptedBill(ctx context.Context) (release func(), err error) {
	select {
	case encryptedBillTurn <- struct{}{}:
		return func() { <-encryptedBillTurn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

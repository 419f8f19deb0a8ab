package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// billVerdictHeader is the header the proxy puts on a bill it checked
// (docs/bills.md).
const billVerdictHeader = "Wechatpay-Proxy-Bill"

// bill is step 14: the app asks for yesterday's trade bill and downloads
// it through the proxy, which passes it on only when its SHA1 is the one
// WeChat Pay signed in the list answer; with the corrupt-bill fault, the
// proxy refuses it.
func (r *run) bill(ctx context.Context, proxyURL string) {
	r.p.heading(14, "The app downloads yesterday's bill: the proxy checks it against the SHA1 WeChat Pay signed")
	date := time.Now().AddDate(0, 0, -1).Format("2006-01-02")
	listURL := proxyURL + sandbox.TradeBillPath + "?bill_date=" + date + "&bill_type=ALL&tar_type=GZIP"
	r.p.line("GET %s  (no Authorization)", listURL)
	list, err := get(ctx, listURL)
	if err != nil || list.status != http.StatusOK {
		r.billRefused("the bill list call", list, err)
		return
	}
	ans := gjson.ParseBytes(list.body)
	r.p.line("✓ %d, verified by the proxy: hash_type %s, hash_value %s", list.status, ans.Get("hash_type"), ans.Get("hash_value"))
	u, err := url.Parse(strings.TrimSpace(ans.Get("download_url").String()))
	if err != nil || u.Path == "" {
		r.problem("the bill list answer has no usable download_url")
		return
	}
	r.p.line("  download_url %s://%s%s?token=…  (the app sends it to the proxy instead)", u.Scheme, u.Host, u.Path)
	r.p.line("GET %s%s?token=…", proxyURL, u.Path)
	dl, err := get(ctx, proxyURL+u.RequestURI())
	if err != nil || dl.status != http.StatusOK {
		r.billRefused("the bill download", dl, err)
		return
	}
	r.p.line("✓ %d, %d bytes of gzip, %s: %s (the proxy fetched it whole and compared its SHA1 first)",
		dl.status, len(dl.body), billVerdictHeader, dl.header.Get(billVerdictHeader))
	zr, err := gzip.NewReader(bytes.NewReader(dl.body))
	var text []byte
	if err == nil {
		text, err = io.ReadAll(zr)
	}
	if err != nil {
		r.p.line("✗ the bill is not gzip as asked: %v", err)
		r.problem("the downloaded bill is not gzip")
		return
	}
	sum := sha1.Sum(text)
	ok := hex.EncodeToString(sum[:]) == ans.Get("hash_value").String()
	r.p.line("%s the app's own SHA1 of the bill after gunzip is the hash_value of the list answer", mark(ok))
	if !ok {
		r.problem("the bill the proxy passed on does not match its hash_value")
	}
	lines := strings.SplitN(string(text), "\n", 3)
	for _, l := range lines[:min(2, len(lines))] {
		r.p.line("  %s", shorten(strings.TrimRight(l, "\r"), 96))
	}
}

// billRefused reports a bill call that got no 200.
func (r *run) billRefused(what string, a *appAnswer, err error) {
	if err != nil {
		r.p.line("✗ %s failed: %v", what, err)
		r.problem("%s failed: %v", what, err)
		return
	}
	code, msg := gjson.GetBytes(a.body, "code").String(), gjson.GetBytes(a.body, "message").String()
	r.p.line("✗ %d %s: %s", a.status, code, msg)
	r.p.line("  (the proxy passed no byte of the bill on)")
	r.problem("%s was refused: %d %s", what, a.status, code)
}

// get sends a GET as the app does: no Authorization, no proxy from the
// environment, a fresh connection.
func get(ctx context.Context, url string) (*appAnswer, error) {
	return send(ctx, http.MethodGet, url, "", nil)
}

package wechatpay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// BenchmarkServeHTTPPresign runs the reference presign request through the
// handler with a next handler that answers as WeChat Pay does (a response
// signed once, with the SDK): everything the module does per request,
// crypto included, without Caddy or the network.
//
//	go test -run XXX -bench ServeHTTPPresign -benchmem .
func BenchmarkServeHTTPPresign(b *testing.B) {
	h, _ := provisionedHandler(b, "")
	c := testkit.Creds()
	body := `{"presign_token":"bench_presign_token"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	// Each answer has a nonce of its own, as WeChat Pay's do: the replay
	// window refuses an answer seen before. They are signed outside the
	// timed part.
	var nonce, sig string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Wechatpay-Timestamp", ts)
		hd.Set("Wechatpay-Nonce", nonce)
		hd.Set("Wechatpay-Signature", sig)
		hd.Set("Wechatpay-Serial", c.PublicKeyID)
		w.WriteHeader(http.StatusOK)
		_, err := w.Write([]byte(body))
		return err
	})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		nonce = fmt.Sprintf("benchnonce%022d", i)
		var err error
		if sig, err = utils.SignSHA256WithRSA(ts+"\n"+nonce+"\n"+body+"\n", c.WechatPayKey); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r := httptest.NewRequest(http.MethodPost, "/v3/eduschoolpay/contracts/presign", strings.NewReader(testkit.PresignBody))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, next); err != nil || w.Code != http.StatusOK {
			b.Fatalf("%v %d %s", err, w.Code, w.Body)
		}
	}
}

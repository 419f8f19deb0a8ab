// Command peer is the benchmark's baseline: what a Go team would write
// instead of the wechatpay Caddy module. It is a net/http/httputil
// ReverseProxy that, for POST /v3/eduschoolpay/contracts/presign, finds the
// five sensitive fields with gjson, encrypts them with the official SDK
// (wechatpay-go v0.2.20, utils.EncryptOAEPWithPublicKey) and puts them back
// with sjson, signs every request with the SDK's credentials +
// SHA256WithRSASigner, and validates WeChat Pay's answer with the SDK's
// WechatPayResponseValidator before passing it on.
//
// It is written to be fair: keys parsed once, a pooled copy buffer, keep-alive
// connections to the upstream, a bounded request body, no per-request logging.
package main

import (
	"bytes"
	"crypto/rsa"
	_ "expvar"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/credentials"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// presignPath and presignFields are the endpoint and its sensitive fields,
// as WeChat Pay documents them.
const presignPath = "/v3/eduschoolpay/contracts/presign"

var presignFields = []string{
	"identity.real_name", "identity.credential_type", "identity.id_card_number",
	"bank_card.bank_card_no", "bank_card.phone",
}

type peer struct {
	pubKey      *rsa.PublicKey
	pubKeyID    string
	credentials *credentials.WechatPayCredentials
	validator   *validators.WechatPayResponseValidator
	proxy       *httputil.ReverseProxy
	maxBody     int64
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9181", "address to listen on")
	upstreamURL := flag.String("upstream", "http://127.0.0.1:9182", "WeChat Pay base URL")
	mchid := flag.String("mchid", "", "merchant number")
	serial := flag.String("serial", "", "merchant API certificate serial")
	keyPath := flag.String("key", "", "merchant private key (apiclient_key.pem)")
	pubPath := flag.String("pubkey", "", "WeChat Pay public key (pub_key.pem)")
	pubID := flag.String("pubkey-id", "", "WeChat Pay public key ID (PUB_KEY_ID_...)")
	maxBody := flag.Int64("max-body", 1<<20, "largest request body accepted")
	admin := flag.String("admin", "", "address for /debug/vars and /debug/pprof (benchmark only; off when empty)")
	flag.Parse()

	key, err := utils.LoadPrivateKeyWithPath(*keyPath)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	pub, err := utils.LoadPublicKeyWithPath(*pubPath)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	up, err := url.Parse(*upstreamURL)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 256
	transport.IdleConnTimeout = 2 * time.Minute

	p := &peer{
		pubKey:   pub,
		pubKeyID: *pubID,
		credentials: &credentials.WechatPayCredentials{Signer: &signers.SHA256WithRSASigner{
			MchID: *mchid, CertificateSerialNo: *serial, PrivateKey: key,
		}},
		validator: validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSAPubkeyVerifier(*pubID, *pub)),
		maxBody:   *maxBody,
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
		},
		Transport:  transport,
		BufferPool: bufferPool{},
		ModifyResponse: func(resp *http.Response) error {
			return p.validator.Validate(resp.Request.Context(), resp)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "PROXY_ERROR", err.Error())
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}

	if *admin != "" {
		// http.DefaultServeMux has /debug/vars (expvar) and /debug/pprof/.
		go func() { log.Print(http.ListenAndServe(*admin, http.DefaultServeMux)) }()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(os.Stderr, "peer: ", 0)}
	log.Fatal(srv.Serve(ln))
}

func (p *peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "PARAM_ERROR", "request body too large or unreadable")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == presignPath {
		if !gjson.ValidBytes(body) {
			writeError(w, http.StatusBadRequest, "PARAM_ERROR", "body is not valid JSON")
			return
		}
		for _, field := range presignFields {
			v := gjson.GetBytes(body, field)
			if !v.Exists() {
				continue
			}
			if v.Type != gjson.String {
				writeError(w, http.StatusBadRequest, "PARAM_ERROR", field+" must be a string")
				return
			}
			ct, err := utils.EncryptOAEPWithPublicKey(v.String(), p.pubKey)
			if err != nil {
				writeError(w, http.StatusBadRequest, "PARAM_ERROR", field+": "+err.Error())
				return
			}
			if body, err = sjson.SetBytes(body, field, ct); err != nil {
				writeError(w, http.StatusInternalServerError, "PROXY_ERROR", err.Error())
				return
			}
		}
	}
	authorization, err := p.credentials.GenerateAuthorizationHeader(r.Context(), r.Method, r.URL.RequestURI(), string(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "PROXY_ERROR", "signing failed")
		return
	}
	h := r.Header
	h.Set("Authorization", authorization)
	h.Set("Wechatpay-Serial", p.pubKeyID)
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "peer-proxy/1.0")
	h.Del("Accept-Encoding")
	if len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	p.proxy.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"code\":%q,\"message\":%q}", code, msg)
}

// bufferPool is a sync.Pool of 32 KiB copy buffers for the ReverseProxy.
type bufferPool struct{}

var pool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *pool.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { pool.Put(&b) }

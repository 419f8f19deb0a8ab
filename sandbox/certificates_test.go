package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/downloader"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
)

const testAPIv3Key = "sandboxAPIv3KeyForCertificates32"

// toHarness sends the SDK's absolute api.mch.weixin.qq.com URLs to the
// harness.
type toHarness struct {
	base *url.URL
	rt   http.RoundTripper
}

func (t toHarness) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.base.Scheme, t.base.Host, ""
	return t.rt.RoundTrip(r)
}

// sdkDownloader runs the official SDK's certificate downloader against h.
func sdkDownloader(t *testing.T, h *harness) (*downloader.CertificateDownloader, error) {
	t.Helper()
	base, _ := url.Parse(h.ts.URL)
	client, err := core.NewClient(context.Background(),
		option.WithSigner(&signers.SHA256WithRSASigner{MchID: creds.MchID, CertificateSerialNo: creds.MerchantSerial, PrivateKey: creds.MerchantPrivateKey}),
		option.WithoutValidator(),
		option.WithHTTPClient(&http.Client{Transport: toHarness{base: base, rt: h.ts.Client().Transport}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return downloader.NewCertificateDownloaderWithClient(context.Background(), client, testAPIv3Key)
}

func TestCertificatesDecryptWithSDK(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.srv.SetAPIv3Key(testAPIv3Key); err != nil {
		t.Fatal(err)
	}
	d, err := sdkDownloader(t, h)
	if err != nil {
		t.Fatalf("SDK downloader: %v", err)
	}
	got := d.GetAll(context.Background())
	if len(got) != 1 || got[creds.PlatformSerial] == nil || !got[creds.PlatformSerial].Equal(creds.PlatformCertificate) {
		t.Fatalf("SDK downloaded %v, want the platform certificate %s", got, creds.PlatformSerial)
	}
	// The answer is signed with the platform certificate it lists.
	x := h.last(t)
	if s := x.ResponseHeader.Get("Wechatpay-Serial"); s != creds.PlatformSerial {
		t.Errorf("answer signed by %q, want the platform certificate", s)
	}
	if err := validateHeader(x); err != nil {
		t.Errorf("answer signature: %v", err)
	}
}

func TestCertificatesRotation(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.srv.SetAPIv3Key(testAPIv3Key); err != nil {
		t.Fatal(err)
	}
	next, err := h.srv.RotatePlatformCertificate(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nextSerial := CertificateSerial(next)
	d, err := sdkDownloader(t, h)
	if err != nil {
		t.Fatalf("SDK downloader: %v", err)
	}
	got := d.GetAll(context.Background())
	if len(got) != 2 || got[creds.PlatformSerial] == nil || got[nextSerial] == nil {
		t.Fatalf("after rotation the SDK downloaded %d certificates, want old and new", len(got))
	}
	// Answers naming no key are now signed with the new certificate;
	// naming the old one still gets it.
	resp, _ := h.do(t, rawRequest{method: "GET", uri: CertificatesPath})
	if s := resp.Header.Get("Wechatpay-Serial"); s != nextSerial {
		t.Errorf("signed by %s, want the new certificate %s", s, nextSerial)
	}
	resp, _ = h.do(t, rawRequest{method: "GET", uri: CertificatesPath, header: map[string]string{"Wechatpay-Serial": creds.PlatformSerial}})
	if s := resp.Header.Get("Wechatpay-Serial"); s != creds.PlatformSerial {
		t.Errorf("asked for the old certificate, signed by %s", s)
	}

	h.srv.RetirePlatformCertificate(creds.PlatformSerial)
	_, body := h.do(t, rawRequest{method: "GET", uri: CertificatesPath})
	list := gjson.GetBytes(body, "data.#.serial_no").Array()
	if len(list) != 1 || list[0].String() != nextSerial {
		t.Errorf("after retiring the old certificate the list is %v", list)
	}
	if exp := gjson.GetBytes(body, "data.0.expire_time").String(); exp != next.NotAfter.In(chinaZone).Format(time.RFC3339) {
		t.Errorf("expire_time %q", exp)
	}
}

func TestCertificatesPublicKeyOnly(t *testing.T) {
	for name, mutate := range map[string]func(*Server){
		"switch":         func(s *Server) { s.SetPublicKeyOnly(true) },
		"no certificate": func(s *Server) { s.RetirePlatformCertificate(creds.PlatformSerial) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			if err := h.srv.SetAPIv3Key(testAPIv3Key); err != nil {
				t.Fatal(err)
			}
			mutate(h.srv)
			resp, body := h.do(t, rawRequest{method: "GET", uri: CertificatesPath})
			if resp.StatusCode != http.StatusNotFound || decodeErr(t, body).Code != "RESOURCE_NOT_EXISTS" {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			if err := validate(resp, body); err != nil {
				t.Errorf("the 404 is signed like any answer: %v", err)
			}
		})
	}
}

func TestCertificatesNeedAPIv3KeyAndSignature(t *testing.T) {
	h := newHarness(t, func(cfg *Config) { cfg.APIv3Key = "" })
	resp, _ := h.do(t, rawRequest{method: "GET", uri: CertificatesPath})
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("without an APIv3 key: %d", resp.StatusCode)
	}
	if err := h.srv.SetAPIv3Key("short"); err == nil {
		t.Error("a short APIv3 key was accepted")
	}
	resp, _ = h.do(t, rawRequest{method: "GET", uri: CertificatesPath, noAuth: true})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned request: %d", resp.StatusCode)
	}
}

// validateHeader runs the SDK validator over an observed exchange, trusting
// every platform certificate the sandbox lists.
func validateHeader(x Exchange) error {
	resp := &http.Response{StatusCode: x.Status, Header: x.ResponseHeader, Body: nopBody(x.ResponseBody)}
	return sdkValidator().Validate(context.Background(), resp)
}

// TestServerConfigCarriesAPIv3Key: a simulator built from a credential set
// serves /v3/certificates under that set's APIv3 key with no further call.
func TestServerConfigCarriesAPIv3Key(t *testing.T) {
	if creds.APIv3Key == "" {
		t.Fatal("the test credential set has no APIv3 key")
	}
	h := newHarness(t, nil)
	resp, body := h.do(t, rawRequest{method: "GET", uri: CertificatesPath})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
}

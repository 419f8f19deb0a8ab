package sandbox

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFaultsAreRejectedBySDKValidator(t *testing.T) {
	h := newHarness(t, nil)
	rr := rawRequest{method: "POST", uri: NativePayPath, body: []byte(`{}`)}
	if resp, body := h.do(t, rr); validate(resp, body) != nil {
		t.Fatal("baseline answer does not verify")
	}
	for name, f := range map[string]Faults{
		"WrongKey":       {WrongKey: true},
		"StaleTimestamp": {StaleTimestamp: true},
		"UnknownSerial":  {UnknownSerial: true},
		"ProbeSignature": {ProbeSignature: true},
		"OmitSignature":  {OmitSignature: true},
	} {
		t.Run(name, func(t *testing.T) {
			h.srv.SetFaults(f)
			defer h.srv.SetFaults(Faults{})
			resp, body := h.do(t, rr)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			err := validate(resp, body)
			if err == nil {
				t.Fatalf("SDK validator accepted an answer with fault %s: %v", name, resp.Header)
			}
			t.Logf("SDK validator: %v", err)
			switch name {
			case "ProbeSignature":
				if !strings.HasPrefix(resp.Header.Get("Wechatpay-Signature"), ProbeSignaturePrefix) {
					t.Errorf("signature %q", resp.Header.Get("Wechatpay-Signature"))
				}
			case "OmitSignature":
				if resp.Header.Get("Wechatpay-Signature") != "" || resp.Header.Get("Wechatpay-Timestamp") != "" {
					t.Errorf("headers %v", resp.Header)
				}
			case "StaleTimestamp":
				ts, _ := strconv.ParseInt(resp.Header.Get("Wechatpay-Timestamp"), 10, 64)
				if age := time.Since(time.Unix(ts, 0)); age < 9*time.Minute {
					t.Errorf("timestamp only %s old", age)
				}
			case "UnknownSerial":
				s := resp.Header.Get("Wechatpay-Serial")
				if s == creds.PublicKeyID || !strings.HasPrefix(s, PublicKeyIDPrefix) || len(s) != len(creds.PublicKeyID) {
					t.Errorf("serial %q", s)
				}
			case "WrongKey":
				if resp.Header.Get("Wechatpay-Serial") != creds.PublicKeyID {
					t.Errorf("serial changed: %q", resp.Header.Get("Wechatpay-Serial"))
				}
			}
		})
	}
	// Faults apply to error answers too.
	h.srv.SetFaults(Faults{WrongKey: true})
	resp, body := h.do(t, rawRequest{method: "GET", uri: "/v3/nowhere"})
	if resp.StatusCode != 404 || validate(resp, body) == nil {
		t.Errorf("faulty 404 verified: %d", resp.StatusCode)
	}
	h.srv.SetFaults(Faults{})
}

func TestUnknownSerialFaultWithPlatformCertificate(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SignWith = SignWithPlatformCertificate; c.Faults = Faults{UnknownSerial: true} })
	resp, body := h.do(t, rawRequest{method: "POST", uri: NativePayPath, body: []byte(`{}`)})
	s := resp.Header.Get("Wechatpay-Serial")
	if s == creds.PlatformSerial || len(s) != 40 || strings.HasPrefix(s, PublicKeyIDPrefix) {
		t.Errorf("serial %q", s)
	}
	if validate(resp, body) == nil {
		t.Error("SDK validator accepted an unknown serial")
	}
}

func TestGzipFault(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Faults = Faults{Gzip: true} })

	// A client that does not decode: sees gzip bytes, must decode first.
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	req, _ := http.NewRequest("GET", h.ts.URL+"/v3/nowhere", nil)
	req.Header.Set("User-Agent", "t")
	resp, err := raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	if validate(resp, gz) == nil {
		t.Error("signature verified over the gzip bytes; it must cover the decoded body")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if err := validate(resp, plain); err != nil {
		t.Errorf("decoded body does not verify: %v", err)
	}

	// The SDK client (Go's transport decodes gzip transparently) accepts it.
	res, err := h.sdkClient(t).Post(context.Background(), h.ts.URL+NativePayPath, map[string]string{"a": "b"})
	if err != nil {
		t.Fatalf("SDK with gzip answer: %v", err)
	}
	res.Response.Body.Close()
}

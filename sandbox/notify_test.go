package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
)

// sdkNotifyHandler is the official SDK's callback handler for the set.
func sdkNotifyHandler(t *testing.T, c *Credentials) *notify.Handler {
	t.Helper()
	h, err := notify.NewRSANotifyHandler(c.APIv3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(c.PublicKeyID, *c.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSendNotificationSDKAccepts: what SendNotification posts is a callback
// the official SDK verifies and decrypts to the sample resource.
func TestSendNotificationSDKAccepts(t *testing.T) {
	sdk := sdkNotifyHandler(t, creds)
	for _, event := range NotificationEvents() {
		t.Run(event, func(t *testing.T) {
			n, err := SampleNotification(event, creds.MchID, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sn, err := creds.SignNotification(n, time.Now(), Faults{})
			if err != nil {
				t.Fatal(err)
			}
			var got *notify.Request
			var content map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err = sdk.ParseNotifyRequest(r.Context(), r, &content)
				if err != nil {
					w.WriteHeader(500)
					return
				}
				w.WriteHeader(204)
			}))
			defer srv.Close()
			res, err := SendNotification(context.Background(), nil, srv.URL, sn)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Acknowledged() || got == nil {
				t.Fatalf("SDK refused the callback: status %d", res.Status)
			}
			if got.ID != n.ID || got.EventType != event || got.Resource.OriginalType != n.OriginalType ||
				got.Resource.Plaintext != string(n.Resource) || content["mchid"] != creds.MchID {
				t.Errorf("SDK read %+v / %+v", got, got.Resource)
			}
			plain, err := OpenNotification(creds.APIv3Key, sn.Body)
			if err != nil || string(plain) != string(n.Resource) {
				t.Errorf("OpenNotification: %v", err)
			}
			if strings.Contains(string(sn.Body), "oUpF8uMuAJO") || strings.Contains(string(sn.Body), creds.MchID) {
				t.Errorf("plaintext in the envelope: %s", sn.Body)
			}
		})
	}
	if _, err := SampleNotification("NO.SUCH", creds.MchID, time.Now()); err == nil {
		t.Error("unknown event accepted")
	}
}

// TestSignNotificationFaults: each fault makes a callback the SDK refuses.
func TestSignNotificationFaults(t *testing.T) {
	sdk := sdkNotifyHandler(t, creds)
	n, _ := SampleNotification(EventTransactionSuccess, creds.MchID, time.Now())
	for name, f := range map[string]Faults{
		"wrong key": {WrongKey: true}, "stale": {StaleTimestamp: true}, "unknown serial": {UnknownSerial: true},
		"probe": {ProbeSignature: true}, "no signature": {OmitSignature: true},
	} {
		sn, err := creds.SignNotification(n, time.Now(), f)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(string(sn.Body)))
		r.Header = sn.Header.Clone()
		var content map[string]any
		if _, err := sdk.ParseNotifyRequest(context.Background(), r, &content); err == nil {
			t.Errorf("%s: SDK accepted the faulty callback", name)
		}
	}
}

func TestAPIv3KeyFile(t *testing.T) {
	if len(creds.APIv3Key) != APIv3KeySize || strings.Trim(creds.APIv3Key, nonceSymbols) != "" {
		t.Fatalf("APIv3 key of %d bytes", len(creds.APIv3Key))
	}
	st, err := os.Stat(filepath.Join(credsDir, APIv3KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("apiv3_key.txt: %v %v", err, st)
	}
	loaded, err := LoadCredentials(credsDir)
	if err != nil || loaded.APIv3Key != creds.APIv3Key {
		t.Fatalf("reloaded key differs: %v", err)
	}
	var doc map[string]any
	raw, _ := os.ReadFile(filepath.Join(credsDir, CredentialsFile))
	_ = json.Unmarshal(raw, &doc)
	if files, _ := doc["files"].(map[string]any); files["apiv3_key"] != APIv3KeyFile {
		t.Errorf("credentials.json files: %v", doc["files"])
	}
	if strings.Contains(string(raw), creds.APIv3Key) {
		t.Error("credentials.json holds the key itself")
	}

	// A set written before APIv3 keys existed loads without one, and
	// LoadOrGenerateCredentials adds one.
	dir := t.TempDir()
	copyTree(t, credsDir, dir)
	if err := os.Remove(filepath.Join(dir, APIv3KeyFile)); err != nil {
		t.Fatal(err)
	}
	old, err := LoadCredentials(dir)
	if err != nil || old.APIv3Key != "" {
		t.Fatalf("old set: %v %q", err, old.APIv3Key)
	}
	if _, err := old.SignNotification(Notification{}, time.Now(), Faults{}); err == nil {
		t.Error("signed a callback without an APIv3 key")
	}
	upgraded, err := LoadOrGenerateCredentials(dir, "")
	if err != nil || len(upgraded.APIv3Key) != APIv3KeySize {
		t.Fatalf("upgrade: %v", err)
	}
	again, err := LoadCredentials(dir)
	if err != nil || again.APIv3Key != upgraded.APIv3Key {
		t.Fatalf("upgraded key not kept: %v", err)
	}
	// A damaged key file is an error that does not quote it.
	_ = os.WriteFile(filepath.Join(dir, APIv3KeyFile), []byte("tooshortkey\n"), 0o600)
	if _, err := LoadCredentials(dir); err == nil || strings.Contains(err.Error(), "tooshortkey") {
		t.Errorf("damaged key: %v", err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, info.Mode())
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

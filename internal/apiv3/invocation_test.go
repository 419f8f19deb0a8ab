package apiv3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
)

// The invocation signatures are judged by the official SDK: its signer,
// over the message its PrepayWithRequestPayment builds
// (services/payments/jsapi and app), must give the same bytes (PKCS #1
// v1.5 is deterministic), and its verifier must accept them.

func sdkSigner() *signers.SHA256WithRSASigner {
	c := testkit.Creds()
	return &signers.SHA256WithRSASigner{MchID: c.MchID, CertificateSerialNo: c.SerialNo, PrivateKey: c.MerchantKey}
}

func sdkVerify(t *testing.T, message, signature string) {
	t.Helper()
	v := verifiers.NewSHA256WithRSAPubkeyVerifier("merchant", testkit.Creds().MerchantKey.PublicKey)
	if err := v.Verify(context.Background(), "merchant", message, signature); err != nil {
		t.Errorf("the SDK's verifier refuses the signature: %v", err)
	}
}

func TestSignJSAPIEqualsTheSDK(t *testing.T) {
	key := signingKey(t, testkit.Creds().MerchantKey)
	inv, err := SignJSAPI(key, "wx8888888888888888", "wx201410272009395522657a690389285100", 1700000000, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
	if err != nil {
		t.Fatal(err)
	}
	// As jsapi.PrepayWithRequestPayment builds it.
	message := fmt.Sprintf("%s\n%s\n%s\n%s\n", "wx8888888888888888", "1700000000", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"prepay_id=wx201410272009395522657a690389285100")
	want, err := sdkSigner().Sign(context.Background(), message)
	if err != nil {
		t.Fatal(err)
	}
	if inv.PaySign != want.Signature {
		t.Errorf("paySign differs from the SDK signer's over the documented message")
	}
	sdkVerify(t, message, inv.PaySign)
	got, _ := json.Marshal(inv)
	wantJSON := `{"appId":"wx8888888888888888","timeStamp":"1700000000","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS",` +
		`"package":"prepay_id=wx201410272009395522657a690389285100","signType":"RSA","paySign":"` + want.Signature + `"}`
	if string(got) != wantJSON {
		t.Errorf("the object is\n%s\nwant\n%s", got, wantJSON)
	}
}

func TestSignAPPEqualsTheSDK(t *testing.T) {
	key := signingKey(t, testkit.Creds().MerchantKey)
	inv, err := SignAPP(key, "wxd678efh567hg6787", "1900000109", "WX1217752501201407033233368018", 1700000001, "abc")
	if err != nil {
		t.Fatal(err)
	}
	// As app.PrepayWithRequestPayment builds it: appid, timestamp, noncestr, prepayid.
	message := "wxd678efh567hg6787\n1700000001\nabc\nWX1217752501201407033233368018\n"
	want, err := sdkSigner().Sign(context.Background(), message)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Sign != want.Signature {
		t.Errorf("sign differs from the SDK signer's over the documented message")
	}
	sdkVerify(t, message, inv.Sign)
	got, _ := json.Marshal(inv)
	wantJSON := `{"appid":"wxd678efh567hg6787","partnerid":"1900000109","prepayid":"WX1217752501201407033233368018",` +
		`"package":"Sign=WXPay","noncestr":"abc","timestamp":"1700000001","sign":"` + want.Signature + `"}`
	if string(got) != wantJSON {
		t.Errorf("the object is\n%s\nwant\n%s", got, wantJSON)
	}
}

// TestInvocationInputsChecked: nothing but the documented forms is signed,
// so the message is always four lines, never an API request's five.
func TestInvocationInputsChecked(t *testing.T) {
	key := signingKey(t, testkit.Creds().MerchantKey)
	const app, prepay, nonce = "wx8888888888888888", "wx2014102720093955", "N0NCE"
	for _, c := range []struct {
		name, appID, partnerID, prepayID, nonce, field string
		ts                                             int64
	}{
		{"appid with a newline", "wx8\n", "1900000109", prepay, nonce, "appid", 1},
		{"appid empty", "", "1900000109", prepay, nonce, "appid", 1},
		{"appid too long", strings.Repeat("a", 33), "1900000109", prepay, nonce, "appid", 1},
		{"appid with a dash", "wx-1", "1900000109", prepay, nonce, "appid", 1},
		{"appid non-ASCII", "wx８", "1900000109", prepay, nonce, "appid", 1},
		{"prepay_id with a newline", app, "1900000109", "wx1\nPOST", nonce, "prepay_id", 1},
		{"prepay_id with a CR", app, "1900000109", "wx1\r", nonce, "prepay_id", 1},
		{"prepay_id too long", app, "1900000109", strings.Repeat("w", 65), nonce, "prepay_id", 1},
		{"prepay_id with a space", app, "1900000109", "wx 1", nonce, "prepay_id", 1},
		{"prepay_id empty", app, "1900000109", "", nonce, "prepay_id", 1},
		{"nonce with a slash", app, "1900000109", prepay, "a/b", "nonce", 1},
		{"nonce too long", app, "1900000109", prepay, strings.Repeat("n", 33), "nonce", 1},
		{"timestamp zero", app, "1900000109", prepay, nonce, "timestamp", 0},
		{"partnerid not digits", app, "19000x", prepay, nonce, "partnerid", 1},
		{"partnerid empty", app, "", prepay, nonce, "partnerid", 1},
	} {
		_, jerr := SignJSAPI(key, c.appID, c.prepayID, c.ts, c.nonce)
		_, aerr := SignAPP(key, c.appID, c.partnerID, c.prepayID, c.ts, c.nonce)
		for form, err := range map[string]error{"jsapi": jerr, "app": aerr} {
			if form == "jsapi" && c.field == "partnerid" {
				if err != nil {
					t.Errorf("%s: jsapi has no partnerid, yet %v", c.name, err)
				}
				continue
			}
			var ie *InvocationError
			if !errors.As(err, &ie) || ie.Field != c.field {
				t.Errorf("%s (%s): %v, want a refusal of %s", c.name, form, err, c.field)
			}
		}
	}
}

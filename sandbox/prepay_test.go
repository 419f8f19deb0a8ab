package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	partnerapp "github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments/app"
	partnerjsapi "github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/app"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
)

// Sample identities of the prepay tests, in WeChat Pay's formats.
const (
	testAppID    = "wxd678efh567hg6787"
	testSubAppID = "wx8888888888888888"
	testSubMchID = "1900000110"
	testOpenID   = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	testNotify   = "https://www.weixin.qq.com/wxpay/pay.php"
)

// prepayIDForm is WeChat Pay's prepay_id: "wx", yyyyMMddHHmmss, 20 hex digits.
var prepayIDForm = regexp.MustCompile(`^wx[0-9]{14}[0-9a-f]{20}$`)

// sdkServiceClient is the official SDK client in public-key mode, its
// absolute api.mch.weixin.qq.com URLs sent to the harness, for the SDK's
// service packages (jsapi, app...).
func (h *harness) sdkServiceClient(t *testing.T) *core.Client {
	t.Helper()
	base, _ := url.Parse(h.ts.URL)
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(creds.MchID, creds.MerchantSerial, creds.MerchantPrivateKey, creds.PublicKeyID, creds.PublicKey),
		option.WithHTTPClient(&http.Client{Transport: toHarness{base: base, rt: h.ts.Client().Transport}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The SDK's typed requests of the four endpoints it has.
func sdkJSAPIRequest() jsapi.PrepayRequest {
	return jsapi.PrepayRequest{
		Appid: core.String(testAppID), Mchid: core.String(creds.MchID),
		Description: core.String("Image形象店-深圳腾大-QQ公仔"), OutTradeNo: core.String("1217752501201407033233368018"),
		NotifyUrl: core.String(testNotify),
		Amount:    &jsapi.Amount{Total: core.Int64(100), Currency: core.String("CNY")},
		Payer:     &jsapi.Payer{Openid: core.String(testOpenID)},
	}
}

func sdkAppRequest() app.PrepayRequest {
	return app.PrepayRequest{
		Appid: core.String(testAppID), Mchid: core.String(creds.MchID),
		Description: core.String("Image形象店-深圳腾大-QQ公仔"), OutTradeNo: core.String("1217752501201407033233368019"),
		NotifyUrl: core.String(testNotify),
		Amount:    &app.Amount{Total: core.Int64(100)},
	}
}

func sdkPartnerJSAPIRequest(subOpenID bool) partnerjsapi.PrepayRequest {
	req := partnerjsapi.PrepayRequest{
		SpAppid: core.String(testAppID), SpMchid: core.String(creds.MchID),
		SubAppid: core.String(testSubAppID), SubMchid: core.String(testSubMchID),
		Description: core.String("Image形象店-深圳腾大-QQ公仔"), OutTradeNo: core.String("1217752501201407033233368020"),
		NotifyUrl: core.String(testNotify),
		Amount:    &partnerjsapi.Amount{Total: core.Int64(100)},
		Payer:     &partnerjsapi.Payer{SpOpenid: core.String(testOpenID)},
	}
	if subOpenID {
		req.Payer = &partnerjsapi.Payer{SubOpenid: core.String("oUpF8uMuAJO_M2pxb1Q9zNjWeS7p")}
	}
	return req
}

func sdkPartnerAppRequest() partnerapp.PrepayRequest {
	return partnerapp.PrepayRequest{
		SpAppid: core.String(testAppID), SpMchid: core.String(creds.MchID),
		SubAppid: core.String(testSubAppID), SubMchid: core.String(testSubMchID),
		Description: core.String("Image形象店-深圳腾大-QQ公仔"), OutTradeNo: core.String("1217752501201407033233368021"),
		NotifyUrl: core.String(testNotify),
		Amount:    &partnerapp.Amount{Total: core.Int64(100)},
	}
}

// combineBody is a combine order (the SDK has no combine package); the
// JSAPI form has combine_payer_info.
func combineBody(t *testing.T, withPayer bool) map[string]any {
	m := map[string]any{
		"combine_appid": testAppID, "combine_mchid": creds.MchID,
		"combine_out_trade_no": "P20150806125346",
		"scene_info":           map[string]any{"device_id": "POS1:1", "payer_client_ip": "14.17.22.32"},
		"sub_orders": []any{
			map[string]any{"mchid": creds.MchID, "attach": "深圳分店", "amount": map[string]any{"total_amount": 100, "currency": "CNY"},
				"out_trade_no": "20150806125346", "description": "腾讯充值中心-QQ会员充值"},
			map[string]any{"mchid": creds.MchID, "attach": "北京分店", "amount": map[string]any{"total_amount": 50},
				"out_trade_no": "20150806125347", "description": "腾讯充值中心-QQ会员充值"},
		},
		"notify_url": testNotify,
	}
	if withPayer {
		m["combine_payer_info"] = map[string]any{"openid": testOpenID}
	}
	return m
}

// combinePrepay orders through the SDK client's generic Post (which signs,
// sets Wechatpay-Serial and verifies the answer) and returns the prepay_id.
func combinePrepay(t *testing.T, c *core.Client, path string, body map[string]any) string {
	t.Helper()
	res, err := c.Post(context.Background(), consts.WechatPayAPIServer+path, body)
	if err != nil {
		t.Fatalf("%s via the SDK: %v", path, err)
	}
	var got struct {
		PrepayID string `json:"prepay_id"`
	}
	if err := core.UnMarshalResponse(res.Response, &got); err != nil {
		t.Fatal(err)
	}
	return got.PrepayID
}

func TestPrepayEndpointsAnswerPrepayIDToSDK(t *testing.T) {
	h := newHarness(t, nil)
	c := h.sdkServiceClient(t)
	ctx := context.Background()
	ids := map[string]string{}

	// The SDK's services verify each answer's signature (public key mode).
	if r, _, err := (&jsapi.JsapiApiService{Client: c}).Prepay(ctx, sdkJSAPIRequest()); err != nil {
		t.Errorf("jsapi.Prepay: %v", err)
	} else {
		ids[JSAPIPrepayPath] = *r.PrepayId
	}
	if r, _, err := (&app.AppApiService{Client: c}).Prepay(ctx, sdkAppRequest()); err != nil {
		t.Errorf("app.Prepay: %v", err)
	} else {
		ids[AppPrepayPath] = *r.PrepayId
	}
	if r, _, err := (&partnerjsapi.JsapiApiService{Client: c}).Prepay(ctx, sdkPartnerJSAPIRequest(false)); err != nil {
		t.Errorf("partner jsapi.Prepay: %v", err)
	} else {
		ids[PartnerJSAPIPrepayPath] = *r.PrepayId
	}
	if r, _, err := (&partnerapp.AppApiService{Client: c}).Prepay(ctx, sdkPartnerAppRequest()); err != nil {
		t.Errorf("partner app.Prepay: %v", err)
	} else {
		ids[PartnerAppPrepayPath] = *r.PrepayId
	}
	ids[CombineJSAPIPrepayPath] = combinePrepay(t, c, CombineJSAPIPrepayPath, combineBody(t, true))
	ids[CombineAppPrepayPath] = combinePrepay(t, c, CombineAppPrepayPath, combineBody(t, false))

	seen := map[string]bool{}
	for path, id := range ids {
		if !prepayIDForm.MatchString(id) || len(id) != 36 {
			t.Errorf("%s: prepay_id %q is not wx + 14 digits + 20 hex digits", path, id)
		}
		if seen[id] {
			t.Errorf("prepay_id %s issued twice", id)
		}
		seen[id] = true
	}
	if len(ids) != len(prepayEndpoints) {
		t.Errorf("%d endpoints answered, want %d", len(ids), len(prepayEndpoints))
	}
	x := h.last(t)
	if st, failed := x.Failed(); failed || x.Endpoint != "POST "+CombineAppPrepayPath {
		t.Errorf("exchange %q, failed step %+v", x.Endpoint, st)
	}
}

// prepayCase is one refused prepay request: the body edits and the field
// the 400 must name.
type prepayCase struct {
	name  string
	edits []edit
	field string
}

// edit sets (or with del, deletes) a value at an sjson path; with raw,
// val is the JSON text to put there.
type edit struct {
	path string
	val  any
	del  bool
	raw  bool
}

func del(path string) edit           { return edit{path: path, del: true} }
func set(path string, v any) edit    { return edit{path: path, val: v} }
func missing(path string) prepayCase { return prepayCase{"missing " + path, []edit{del(path)}, path} }
func wrong(path string, v any) prepayCase {
	return prepayCase{"wrong " + path, []edit{set(path, v)}, path}
}

// stringCases: missing, empty, a number instead of a string.
func stringCases(paths ...string) []prepayCase {
	var out []prepayCase
	for _, p := range paths {
		out = append(out, missing(p), prepayCase{"empty " + p, []edit{set(p, "")}, p}, wrong(p, 123))
	}
	return out
}

// amountCases: missing, a string, zero, negative, a fraction, an exponent.
func amountCases(path string) []prepayCase {
	return []prepayCase{missing(path), wrong(path, "100"), wrong(path, 0), wrong(path, -1),
		wrong(path, 1.5), {"exponent " + path, []edit{{path: path, val: "1e2", raw: true}}, path}}
}

func TestPrepayRequiredFields(t *testing.T) {
	h := newHarness(t, nil)
	bodies := map[string][]byte{
		JSAPIPrepayPath:        mustJSON(t, sdkJSAPIRequest()),
		AppPrepayPath:          mustJSON(t, sdkAppRequest()),
		PartnerJSAPIPrepayPath: mustJSON(t, sdkPartnerJSAPIRequest(false)),
		PartnerAppPrepayPath:   mustJSON(t, sdkPartnerAppRequest()),
		CombineJSAPIPrepayPath: mustJSON(t, combineBody(t, true)),
		CombineAppPrepayPath:   mustJSON(t, combineBody(t, false)),
	}
	// Optional parts of a direct or partner order whose own fields the
	// SDK's structs require.
	nested := []prepayCase{
		{"scene_info without payer_client_ip", []edit{set("scene_info", map[string]any{"device_id": "013467007045764"})}, "scene_info.payer_client_ip"},
		{"store_info without id", []edit{set("scene_info", map[string]any{"payer_client_ip": "14.23.150.211", "store_info": map[string]any{"name": "腾讯大厦分店"}})}, "scene_info.store_info.id"},
		{"goods_detail quantity 0", []edit{set("detail.goods_detail", []any{map[string]any{"merchant_goods_id": "1246464644", "quantity": 0, "unit_price": 528800}})}, "detail.goods_detail.0.quantity"},
		{"goods_detail without merchant_goods_id", []edit{set("detail.goods_detail", []any{map[string]any{"quantity": 1, "unit_price": 1}})}, "detail.goods_detail.0.merchant_goods_id"},
		{"goods_detail unit_price string", []edit{set("detail.goods_detail", []any{map[string]any{"merchant_goods_id": "1", "quantity": 1, "unit_price": "1"}})}, "detail.goods_detail.0.unit_price"},
		wrong("amount", 100),
		wrong("amount.currency", 156),
		wrong("scene_info", "14.23.150.211"),
		{"goods_detail unit_price 0 is fine", []edit{set("detail.goods_detail", []any{map[string]any{"merchant_goods_id": "1", "quantity": 1, "unit_price": 0}})}, ""},
	}
	direct := slices.Concat(stringCases("appid", "mchid", "description", "out_trade_no", "notify_url"),
		amountCases("amount.total"), []prepayCase{missing("amount")})
	partner := slices.Concat(stringCases("sp_appid", "sp_mchid", "sub_mchid", "description", "out_trade_no", "notify_url"),
		amountCases("amount.total"), []prepayCase{missing("amount"), {"empty sub_appid", []edit{set("sub_appid", "")}, "sub_appid"}})
	combine := slices.Concat(stringCases("combine_appid", "combine_mchid", "combine_out_trade_no", "notify_url",
		"sub_orders.0.mchid", "sub_orders.0.attach", "sub_orders.0.out_trade_no", "sub_orders.1.description"),
		amountCases("sub_orders.1.amount.total_amount"),
		[]prepayCase{missing("sub_orders"), wrong("sub_orders", []any{}), wrong("sub_orders", map[string]any{}),
			wrong("sub_orders.1", "x"), missing("sub_orders.0.amount"), wrong("sub_orders.0.amount.currency", ""),
			{"scene_info without payer_client_ip", []edit{del("scene_info.payer_client_ip")}, "scene_info.payer_client_ip"}})

	// slices.Concat: the lists share a prefix and must not share an array.
	cases := map[string][]prepayCase{
		JSAPIPrepayPath: slices.Concat(direct, nested, []prepayCase{missing("payer"), wrong("payer", "x"),
			missing("payer.openid"), wrong("payer.openid", 1)}),
		AppPrepayPath: slices.Concat(direct, nested,
			[]prepayCase{{"no payer is fine", []edit{del("payer")}, ""}}),
		PartnerJSAPIPrepayPath: slices.Concat(partner, nested, []prepayCase{missing("payer"),
			{"neither openid", []edit{del("payer.sp_openid")}, "payer.sp_openid"},
			{"sub_openid without sub_appid", []edit{del("payer.sp_openid"), set("payer.sub_openid", "o1"), del("sub_appid")}, "sub_appid"},
			{"sp_openid without sub_appid is fine", []edit{del("sub_appid")}, ""},
			wrong("payer.sub_openid", 7)}),
		PartnerAppPrepayPath: slices.Concat(partner, nested),
		CombineJSAPIPrepayPath: slices.Concat(combine, []prepayCase{missing("combine_payer_info"),
			missing("combine_payer_info.openid"), wrong("combine_payer_info.openid", []any{"o"})}),
		CombineAppPrepayPath: slices.Concat(combine, []prepayCase{{"no payer is fine", []edit{del("combine_payer_info")}, ""}}),
	}
	for path, list := range cases {
		for _, tc := range list {
			t.Run(strings.TrimPrefix(path, "/v3/")+"/"+tc.name, func(t *testing.T) {
				body := bodies[path]
				var err error
				for _, e := range tc.edits {
					switch {
					case e.del:
						body, err = sjson.DeleteBytes(body, e.path)
					case e.raw:
						body, err = sjson.SetRawBytes(body, e.path, []byte(e.val.(string)))
					default:
						body, err = sjson.SetBytes(body, e.path, e.val)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				resp, rb := h.do(t, rawRequest{method: "POST", uri: path, body: body,
					header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
				if err := validate(resp, rb); err != nil {
					t.Errorf("answer not verified by the SDK: %v", err)
				}
				if tc.field == "" {
					if resp.StatusCode != 200 || !prepayIDForm.MatchString(gjson.GetBytes(rb, "prepay_id").Str) {
						t.Errorf("valid body %s: %d %s", body, resp.StatusCode, rb)
					}
					return
				}
				e := decodeErr(t, rb)
				if resp.StatusCode != 400 || e.Code != "PARAM_ERROR" || e.Detail["field"] != tc.field ||
					!strings.Contains(e.Message, tc.field) {
					t.Errorf("body %s: got %d %s, want 400 PARAM_ERROR naming %s", body, resp.StatusCode, rb, tc.field)
				}
			})
		}
	}
}

func TestPrepayMerchantMustBeCaller(t *testing.T) {
	h := newHarness(t, nil)
	for path, m := range map[string]struct {
		field string
		body  any
	}{
		JSAPIPrepayPath:        {"mchid", sdkJSAPIRequest()},
		AppPrepayPath:          {"mchid", sdkAppRequest()},
		PartnerJSAPIPrepayPath: {"sp_mchid", sdkPartnerJSAPIRequest(false)},
		PartnerAppPrepayPath:   {"sp_mchid", sdkPartnerAppRequest()},
		CombineJSAPIPrepayPath: {"combine_mchid", combineBody(t, true)},
		CombineAppPrepayPath:   {"combine_mchid", combineBody(t, false)},
	} {
		body, err := sjson.SetBytes(mustJSON(t, m.body), m.field, "1900000999")
		if err != nil {
			t.Fatal(err)
		}
		resp, rb := h.do(t, rawRequest{method: "POST", uri: path, body: body,
			header: map[string]string{"Wechatpay-Serial": creds.PublicKeyID}})
		if e := decodeErr(t, rb); resp.StatusCode != 400 || e.Code != "PARAM_ERROR" || e.Detail["field"] != m.field ||
			!strings.Contains(e.Message, "Authorization") {
			t.Errorf("%s with %s of another merchant: %d %s", path, m.field, resp.StatusCode, rb)
		}
		if err := validate(resp, rb); err != nil {
			t.Errorf("%s: refusal not verified by the SDK: %v", path, err)
		}
		if st, _ := h.last(t).Failed(); st.Name != "merchant" {
			t.Errorf("%s: failed step %+v, want merchant", path, st)
		}
	}
	// The sub-merchant of a partner order is not the caller, and need not be.
	if _, _, err := (&partnerjsapi.JsapiApiService{Client: h.sdkServiceClient(t)}).Prepay(context.Background(),
		sdkPartnerJSAPIRequest(false)); err != nil {
		t.Errorf("partner order for sub_mchid %s: %v", testSubMchID, err)
	}
}

func TestPrepayFaultsApply(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Faults = Faults{WrongKey: true} })
	_, _, err := (&jsapi.JsapiApiService{Client: h.sdkServiceClient(t)}).Prepay(context.Background(), sdkJSAPIRequest())
	if err == nil {
		t.Fatal("the SDK accepted a prepay answer signed with the wrong key")
	}
	h.srv.SetFaults(Faults{Gzip: true})
	if _, _, err := (&app.AppApiService{Client: h.sdkServiceClient(t)}).Prepay(context.Background(), sdkAppRequest()); err != nil {
		t.Errorf("gzip answer (decoded by Go's transport): %v", err)
	}
}

func TestPrepayStoreForgetsOldest(t *testing.T) {
	s := prepayStore{limit: 3}
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, chinaZone)
	var ids []string
	for i := range 5 {
		ids = append(ids, s.issue(prepayOrder{appID: string(rune('a' + i))}, now))
	}
	for i, id := range ids {
		_, ok := s.lookup(id)
		if want := i >= 2; ok != want {
			t.Errorf("prepay_id %d remembered %v, want %v", i, ok, want)
		}
	}
	if len(s.orders) != 3 || len(s.ring) != 3 {
		t.Errorf("%d orders, ring of %d", len(s.orders), len(s.ring))
	}
	var d prepayStore
	for range MaxPrepayIDs + 1 {
		d.issue(prepayOrder{}, now)
	}
	if len(d.orders) != MaxPrepayIDs {
		t.Errorf("default store holds %d, want %d", len(d.orders), MaxPrepayIDs)
	}
}

package wechatpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv2sign"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// With apiv2_key, the handler signs the three front-end forms that WeChat
// Pay defines with the APIv2 key, so that the app never holds it: the mini
// program coupon plugin (小程序发券插件), the H5 coupon URL (H5发券) and the
// payscore order detail (wxpayScoreDetail). Each route takes a JSON body,
// is answered by the proxy (nothing goes upstream) and answers the object
// the front end uses as it is. Since the same key signs APIv2 API calls, each
// route signs only its own parameter names with values of the form WeChat
// Pay issues (internal/apiv2sign): anything else is refused, unsigned.

// The routes of the front-end forms.
const (
	sendCouponPath     = "/wechatpay/sign/send-coupon"
	h5CouponPath       = "/wechatpay/sign/h5-coupon"
	payscoreDetailPath = "/wechatpay/sign/payscore-detail"
)

// maxFrontendSignBody bounds a form request: ten coupons of five short
// strings fit many times over.
const maxFrontendSignBody = 16 << 10

// frontendForm is one route: its name (in logs) and how it signs a body for
// merchant mchid with key.
type frontendForm struct {
	name string
	sign func(body []byte, mchid string, key []byte) ([]byte, error)
}

// frontendForms are the routes by path.
var frontendForms = map[string]*frontendForm{
	sendCouponPath:     {name: "send-coupon", sign: signSendCoupon},
	h5CouponPath:       {name: "h5-coupon", sign: signH5Coupon},
	payscoreDetailPath: {name: "payscore-detail", sign: signPayscoreDetail},
}

// serveFrontendSign answers a front-end form route.
func (h *Handler) serveFrontendSign(w http.ResponseWriter, r *http.Request, keys *keySet, form *frontendForm) error {
	buf, ae := readSigningRequest(w, r, maxFrontendSignBody)
	if ae != nil {
		return h.refuse(w, r, ae)
	}
	defer proxyhttp.Release(buf)
	out, err := form.sign(buf.Bytes(), keys.signer.MchID, keys.apiv2Key)
	if err != nil {
		var fe *apiv2sign.FieldError
		if errors.As(err, &fe) {
			return h.refuse(w, r, &apiError{status: http.StatusBadRequest, code: codeParamError, field: fe.Field,
				message: fe.Error() + "; nothing was signed"})
		}
		h.logger.Error("signing a front-end form failed", zap.String("form", form.name))
		return h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: codeProxyError, message: "signing the form failed"})
	}
	h.logger.Debug("signed a front-end form", zap.String("form", form.name))
	h.metrics.request(r, metriclabels.Signed)
	w.Header().Set("Cache-Control", "no-store") // a signed form is for one use
	writeJSON(w, http.StatusOK, out)
	return nil
}

// signSendCoupon answers {"send_coupon_params":[...as sent...],
// "send_coupon_merchant":"...","sign":"..."}: the three attributes of the
// plugin's <send-coupon> component.
func signSendCoupon(body []byte, mchid string, key []byte) ([]byte, error) {
	s, err := apiv2sign.ParseSendCoupon(body, mchid)
	if err != nil {
		return nil, err
	}
	sign, err := apiv2sign.Sign(key, s.Params())
	if err != nil {
		return nil, err
	}
	var o jsonObject
	o.raw("send_coupon_params", func(b *bytes.Buffer) {
		b.WriteByte('[')
		for i, c := range s.Coupons {
			if i > 0 {
				b.WriteByte(',')
			}
			var co jsonObject
			for _, p := range c {
				co.str(p.Name, p.Value)
			}
			b.Write(co.bytes())
		}
		b.WriteByte(']')
	})
	o.str("send_coupon_merchant", s.Merchant)
	o.str("sign", sign)
	return o.bytes(), nil
}

// signH5Coupon answers {"url":"https://action.weixin.qq.com/busifavor/
// getcouponinfo?...&sign=...#wechat_pay&wechat_redirect","sign":"..."}.
func signH5Coupon(body []byte, mchid string, key []byte) ([]byte, error) {
	h, err := apiv2sign.ParseH5Coupon(body, mchid)
	if err != nil {
		return nil, err
	}
	sign, err := apiv2sign.Sign(key, h.Params)
	if err != nil {
		return nil, err
	}
	var o jsonObject
	o.str("url", h.URL(sign))
	o.str("sign", sign)
	return o.bytes(), nil
}

// signPayscoreDetail answers {"extra_data":{"mch_id",...,"sign"},
// "query":"mch_id=...&sign=..."}: extra_data is the mini program's
// wx.openBusinessView extraData, query the JSAPI openBusinessView
// queryString and the APP's WXOpenBusinessView query.
func signPayscoreDetail(body []byte, mchid string, key []byte) ([]byte, error) {
	nonce, err := apiv3.NewNonce()
	if err != nil {
		return nil, err
	}
	p, err := apiv2sign.ParsePayscoreDetail(body, mchid, time.Now(), nonce)
	if err != nil {
		return nil, err
	}
	params := p.Params()
	sign, err := apiv2sign.Sign(key, params)
	if err != nil {
		return nil, err
	}
	var extra jsonObject
	for _, q := range params {
		extra.str(q.Name, q.Value)
	}
	extra.str("sign", sign)
	var o jsonObject
	o.raw("extra_data", func(b *bytes.Buffer) { b.Write(extra.bytes()) })
	o.str("query", p.Query(sign))
	return o.bytes(), nil
}

// jsonObject writes a JSON object member by member, in order, without
// HTML escaping (a URL keeps its '&').
type jsonObject struct{ b bytes.Buffer }

func (o *jsonObject) key(name string) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	o.b.Write(jsonString(name))
	o.b.WriteByte(':')
}

func (o *jsonObject) str(name, value string) {
	o.key(name)
	o.b.Write(jsonString(value))
}

func (o *jsonObject) raw(name string, write func(*bytes.Buffer)) {
	o.key(name)
	write(&o.b)
}

func (o *jsonObject) bytes() []byte {
	if o.b.Len() == 0 {
		return []byte("{}")
	}
	return append(o.b.Bytes(), '}')
}

// jsonString is s as a JSON string, '<', '>' and '&' left as they are.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

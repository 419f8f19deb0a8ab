package apiv2sign

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxCoupons is the most coupons one coupon plugin form may send (下标 0 to 9).
const MaxCoupons = 10

// H5CouponBase is the WeChat Pay page an H5 coupon URL opens (H5发券).
const H5CouponBase = "https://action.weixin.qq.com/busifavor/getcouponinfo"

// H5CouponFragment ends every H5 coupon URL; without it WeChat answers
// 268435461. The page of 2025-03-21 writes it #wechat_pay&wechat_redirect
// (earlier pages: #wechat_redirect).
const H5CouponFragment = "#wechat_pay&wechat_redirect"

// kind is the form a value must have.
type kind struct {
	pattern *regexp.Regexp
	what    string // said in a refusal
	check   func(string) bool
}

var (
	// merchantNumber: 商户号, string[8,15] on the coupon pages.
	merchantNumber = kind{regexp.MustCompile(`^[0-9]{8,15}$`), "a merchant number (8 to 15 digits)", nil}
	// stockID: 批次号, string[1,20], digits.
	stockID = kind{regexp.MustCompile(`^[0-9]{1,20}$`), "a stock id (1 to 20 digits)", nil}
	// requestNo: 发券凭证, string[1,128], "可包含英文字母、数字,不允许出现其他不合法符号".
	requestNo = kind{regexp.MustCompile(`^[0-9A-Za-z]{1,128}$`), "1 to 128 letters and digits", nil}
	// couponCode: 券code, string[1,128].
	couponCode = kind{regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`), "1 to 128 of [0-9A-Za-z_-]", nil}
	// openID: OpenID, string[1,128].
	openID = kind{regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`), "an OpenID (1 to 128 of [0-9A-Za-z_-])", nil}
	// sendTime: customize_send_time, string[1,32], RFC 3339
	// (yyyy-MM-DDTHH:mm:ss+TIMEZONE).
	sendTime = kind{regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([+-][0-9]{2}:[0-9]{2}|Z)$`),
		"an RFC 3339 time such as 2015-05-20T13:29:35+08:00", validTime}
	// serviceID: 服务ID, string[1,32], digits.
	serviceID = kind{regexp.MustCompile(`^[0-9]{1,32}$`), "a service id (1 to 32 digits)", nil}
	// orderNo: 商户服务订单号, string[1,32], "只能是数字、大小写字母_-|*".
	orderNo = kind{regexp.MustCompile(`^[0-9A-Za-z_|*-]{1,32}$`), "1 to 32 of [0-9A-Za-z_-|*]", nil}
)

func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// value checks v against k; field names the member in the refusal.
func (k kind) value(field, v string) error {
	if v == "" {
		return refuse(field, "must not be empty")
	}
	if !k.pattern.MatchString(v) || k.check != nil && !k.check(v) {
		return refuse(field, "must be "+k.what)
	}
	return nil
}

// fields is the member set of one form: each member's kind, and which
// are required.
type fields struct {
	kinds    map[string]kind
	required []string
	order    []string // the documented order, for messages
}

// read checks members against f and returns their values by name.
func (f fields) read(members []member, prefix string) (map[string]string, error) {
	got := map[string]string{}
	for _, m := range members {
		k, ok := f.kinds[m.name]
		if !ok || m.list != nil {
			return nil, refuse(prefix+m.name, "is not a member here (members: "+strings.Join(f.order, ", ")+")")
		}
		if err := k.value(prefix+m.name, m.str); err != nil {
			return nil, err
		}
		got[m.name] = m.str
	}
	for _, name := range f.required {
		if _, ok := got[name]; !ok {
			return nil, refuse(prefix+name, "is required")
		}
	}
	return got, nil
}

// parse reads body, one JSON object of string members, against f.
func (f fields) parse(body []byte) (map[string]string, error) {
	members, err := readObject(body, "")
	if err != nil {
		return nil, err
	}
	return f.read(members, "")
}

// sendCouponMerchant reads send_coupon_merchant: this merchant's number
// (the key that signs is the sending merchant's), mchid when absent.
func sendCouponMerchant(got map[string]string, mchid string) (string, error) {
	v, ok := got["send_coupon_merchant"]
	if !ok {
		return mchid, nil
	}
	if v != mchid {
		return "", refuse("send_coupon_merchant", "must be this merchant's number, whose APIv2 key signs (or left out)")
	}
	return v, nil
}

// Coupon is one coupon of a plugin form, its members in the order sent.
type Coupon []Param

// SendCoupon is the coupon plugin's input (小程序发券插件, <send-coupon>).
type SendCoupon struct {
	Merchant string   // send_coupon_merchant
	Coupons  []Coupon // send_coupon_params
}

var (
	sendCouponTop = fields{kinds: map[string]kind{"send_coupon_merchant": merchantNumber},
		order: []string{"send_coupon_merchant", "send_coupon_params"}}
	couponFields = fields{kinds: map[string]kind{
		"stock_id": stockID, "out_request_no": requestNo, "coupon_code": couponCode,
		"customize_send_time": sendTime, "create_coupon_merchant": merchantNumber},
		required: []string{"stock_id", "out_request_no"},
		order:    []string{"stock_id", "out_request_no", "coupon_code", "customize_send_time", "create_coupon_merchant"}}
)

// ParseSendCoupon reads {"send_coupon_merchant":"...","send_coupon_params":
// [{"stock_id":"...","out_request_no":"...",...}]} strictly; mchid is the
// merchant whose key signs, and send_coupon_merchant must be it (it is
// filled in when absent).
func ParseSendCoupon(body []byte, mchid string) (*SendCoupon, error) {
	members, err := readObject(body, "send_coupon_params")
	if err != nil {
		return nil, err
	}
	var list [][]member
	var top []member
	for _, m := range members {
		if m.name == "send_coupon_params" {
			list = m.list
			continue
		}
		top = append(top, m)
	}
	got, err := sendCouponTop.read(top, "")
	if err != nil {
		return nil, err
	}
	s := &SendCoupon{}
	if s.Merchant, err = sendCouponMerchant(got, mchid); err != nil {
		return nil, err
	}
	if list == nil {
		return nil, refuse("send_coupon_params", "is required: an array of 1 to "+strconv.Itoa(MaxCoupons)+" coupons")
	}
	if len(list) == 0 {
		return nil, refuse("send_coupon_params", "must hold at least one coupon")
	}
	for i, obj := range list {
		prefix := "send_coupon_params[" + strconv.Itoa(i) + "]."
		if _, err := couponFields.read(obj, prefix); err != nil {
			return nil, err
		}
		c := make(Coupon, len(obj))
		for j, m := range obj {
			c[j] = Param{m.name, m.str}
		}
		s.Coupons = append(s.Coupons, c)
	}
	return s, nil
}

// Params returns the signed parameters: send_coupon_merchant, and each
// coupon's members with its index (stock_id0, out_request_no0, ...).
func (s *SendCoupon) Params() []Param {
	ps := []Param{{"send_coupon_merchant", s.Merchant}}
	for i, c := range s.Coupons {
		for _, p := range c {
			ps = append(ps, Param{p.Name + strconv.Itoa(i), p.Value})
		}
	}
	return ps
}

// H5Coupon is the H5 coupon URL's input (H5发券).
type H5Coupon struct {
	Params []Param // in the documented order, absent ones left out
}

var h5Fields = fields{kinds: map[string]kind{
	"stock_id": stockID, "out_request_no": requestNo, "send_coupon_merchant": merchantNumber,
	"open_id": openID, "coupon_code": couponCode, "customize_send_time": sendTime},
	required: []string{"stock_id", "out_request_no", "open_id"},
	order:    []string{"stock_id", "out_request_no", "send_coupon_merchant", "open_id", "customize_send_time", "coupon_code"}}

// ParseH5Coupon reads {"stock_id","out_request_no","send_coupon_merchant",
// "open_id", and optionally "coupon_code", "customize_send_time"} strictly;
// send_coupon_merchant must be mchid, and is filled in when absent.
func ParseH5Coupon(body []byte, mchid string) (*H5Coupon, error) {
	got, err := h5Fields.parse(body)
	if err != nil {
		return nil, err
	}
	if got["send_coupon_merchant"], err = sendCouponMerchant(got, mchid); err != nil {
		return nil, err
	}
	h := &H5Coupon{}
	for _, name := range h5Fields.order {
		if v, ok := got[name]; ok {
			h.Params = append(h.Params, Param{name, v})
		}
	}
	return h, nil
}

// URL returns the coupon page URL with sign: every parameter
// query-escaped, sign after them, then H5CouponFragment.
func (h *H5Coupon) URL(sign string) string {
	return H5CouponBase + "?" + query(append(slices.Clone(h.Params), Param{"sign", sign})) + H5CouponFragment
}

// PayscoreDetail is the payscore order detail's input (wxpayScoreDetail).
type PayscoreDetail struct {
	MchID, ServiceID, OutOrderNo, Timestamp, NonceStr string
}

var payscoreFields = fields{kinds: map[string]kind{"service_id": serviceID, "out_order_no": orderNo},
	required: []string{"service_id", "out_order_no"}, order: []string{"service_id", "out_order_no"}}

// ParsePayscoreDetail reads {"service_id":"...","out_order_no":"..."}
// strictly, for merchant mchid, with the timestamp and nonce given (the
// caller's clock and random source).
func ParsePayscoreDetail(body []byte, mchid string, now time.Time, nonce string) (*PayscoreDetail, error) {
	got, err := payscoreFields.parse(body)
	if err != nil {
		return nil, err
	}
	return &PayscoreDetail{MchID: mchid, ServiceID: got["service_id"], OutOrderNo: got["out_order_no"],
		Timestamp: strconv.FormatInt(now.Unix(), 10), NonceStr: nonce}, nil
}

// Params returns the signed parameters, in the documented order.
func (p *PayscoreDetail) Params() []Param {
	return []Param{{"mch_id", p.MchID}, {"service_id", p.ServiceID}, {"out_order_no", p.OutOrderNo},
		{"timestamp", p.Timestamp}, {"nonce_str", p.NonceStr}, {"sign_type", SignType}}
}

// Query returns the parameters and sign as the query string JSAPI's
// queryString and the APP's query take, each value URL-encoded.
func (p *PayscoreDetail) Query(sign string) string {
	return query(append(p.Params(), Param{"sign", sign}))
}

// query joins params as name=value&..., values query-escaped.
func query(params []Param) string {
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

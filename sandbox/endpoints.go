package sandbox

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// presignRequired lists the presign endpoint's required fields (from the
// API reference): top-level ones always, nested ones when their parent
// object is present.
var presignRequired = []struct{ parent, path string }{
	{"", "appid"},
	{"", "openid"},
	{"", "plan_id"},
	{"", "user_id"},
	{"", "school_id"},
	{"", "out_contract_code"},
	{"identity", "identity.real_name"},
	{"identity", "identity.credential_type"},
	{"bank_card", "bank_card.bank_card_no"},
}

// validatePresign checks the presign body's required fields.
func validatePresign(req *request) *answer {
	root := gjson.ParseBytes(req.body)
	if !root.IsObject() {
		req.x.step("required fields", false, "body is not a JSON object")
		return paramError("请求体应为JSON对象", fieldDetail("body", "", "body is not a JSON object"))
	}
	for _, f := range presignRequired {
		if f.parent != "" {
			p := root.Get(f.parent)
			if !p.Exists() {
				continue
			}
			if !p.IsObject() {
				return requiredFieldError(req.x, f.parent, "must be an object")
			}
		}
		v := root.Get(f.path)
		if v.Type != gjson.String || v.Str == "" {
			return requiredFieldError(req.x, f.path, "required, a non-empty string")
		}
	}
	req.x.step("required fields", true, "appid, openid, plan_id, user_id, school_id, out_contract_code, and those of identity / bank_card when present")
	return nil
}

func requiredFieldError(x *Exchange, path, issue string) *answer {
	x.step("required fields", false, path+": "+issue)
	source := "/body/" + strings.ReplaceAll(path, ".", "/")
	return paramError(fmt.Sprintf("输入源“%s”映射到值字段“%s”必填性规则校验失败，此字段为必填项", source, path),
		fieldDetail("body", path, issue))
}

// nativePay answers a Native payment code_url.
func (s *Server) nativePay(req *request) *answer {
	return jsonAnswer(http.StatusOK, map[string]string{"code_url": "weixin://wxpay/bizpayurl?pr=" + randomNonce(7)})
}

// cataloged answers any other cataloged endpoint: the path parameters,
// and at each response_body path a value encrypted with the merchant
// certificate's key (the request's decrypted value at the same path, else
// SampleResponsePlaintext).
func (s *Server) cataloged(req *request) *answer {
	merchant := certKey(s.cfg.MerchantCertificate)
	obj, err := buildEncryptedAnswer(req.ep.ResponseBody, func(path string) (string, error) {
		plain := SampleResponsePlaintext(path)
		if v, ok := req.x.Field(path); ok {
			plain = v
		}
		return encryptOAEP(merchant, plain)
	})
	if err != nil {
		req.x.step("answer", false, "building the answer failed: "+err.Error())
		return errorAnswer(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误", nil)
	}
	for k, v := range req.params {
		if _, taken := obj[k]; !taken {
			obj[k] = v
		}
	}
	if len(req.ep.ResponseBody) > 0 {
		req.x.step("answer", true, fmt.Sprintf("%d response_body paths encrypted for merchant certificate %s",
			len(req.ep.ResponseBody), s.merchantSerial))
	}
	return jsonAnswer(http.StatusOK, obj)
}

// billCSV is the sample bill the download serves.
const billCSV = "\uFEFF交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
	"`2026-01-01 10:00:00,`wx8888888888888888,`%s,`0,`,`4200000000202601010000000000,`SANDBOX0001,`oUpF8uMuAJOM2pxb1Q,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`sandbox,`,`0.00000,`0.60%%,`0.01,`0.00,`\r\n" +
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
	"`1,`0.01,`0.00,`0.00,`0.00000,`0.01,`0.00\r\n"

// billDownload serves an unsigned bill file: gzip when tar_type=GZIP, else
// CSV text, Content-Type application/octet-stream either way.
func (s *Server) billDownload(req *request) *answer {
	if a := s.issuedDownload(req); a != nil {
		return a
	}
	data := []byte(fmt.Sprintf(billCSV, s.cfg.MchID))
	if req.r.URL.Query().Get("tar_type") == "GZIP" {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(data)
		_ = zw.Close()
		data = buf.Bytes()
	}
	req.x.step("answer", true, fmt.Sprintf("bill file, %d bytes, unsigned", len(data)))
	return &answer{status: http.StatusOK, body: data, contentType: "application/octet-stream", unsigned: true}
}

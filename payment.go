package wechatpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/metriclabels"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
)

// With request_payment on, the verified response of a prepay call (JSAPI,
// mini program or APP) gets the object the WeChat client takes to open the
// payment sheet, signed with the merchant key, so that the app never needs
// the key; and POST /wechatpay/request-payment signs it again for a stored
// prepay_id.

// requestPaymentPath is the handler's own route that signs an invocation
// for a stored prepay_id. It is answered by the handler, never forwarded.
const requestPaymentPath = "/wechatpay/request-payment"

// requestPaymentMember is the member added to a prepay response.
const requestPaymentMember = "request_payment"

// prepayEndpoint says where the invocation of one prepay endpoint takes its
// appid (and for the APP form, its partnerid) from in the request.
type prepayEndpoint struct {
	app bool // the APP form (OpenSDK PayReq), else the JSAPI form
	// appID and subAppID are the request fields of the app: subAppID,
	// when set and present (and, with subWhen, when that field is
	// present too), wins over appID.
	appID, subAppID, subWhen string
	partnerID                string // the request field of the APP form's partnerid
	fields                   *jsonfield.Set
}

// prepayEndpoints are the POST endpoints whose verified response carries a
// prepay_id that the WeChat client invokes, by path.
var prepayEndpoints = map[string]*prepayEndpoint{
	"/v3/pay/transactions/jsapi":         {appID: "appid"},
	"/v3/pay/partner/transactions/jsapi": {appID: "sp_appid", subAppID: "sub_appid", subWhen: "payer.sub_openid"},
	"/v3/combine-transactions/jsapi":     {appID: "combine_appid"},
	"/v3/pay/transactions/app":           {app: true, appID: "appid", partnerID: "mchid"},
	"/v3/pay/partner/transactions/app":   {app: true, appID: "sp_appid", subAppID: "sub_appid", partnerID: "sub_mchid"},
	"/v3/combine-transactions/app":       {app: true, appID: "combine_appid", partnerID: "combine_mchid"},
}

func init() {
	for _, e := range prepayEndpoints {
		var paths []string
		for _, p := range []string{e.appID, e.subAppID, e.subWhen, e.partnerID} {
			if p != "" {
				paths = append(paths, p)
			}
		}
		e.fields = mustFieldSet(paths...)
	}
}

// invocationRequest is what an invocation is signed for: taken from a
// prepay request before it goes upstream, or from the re-sign route.
type invocationRequest struct {
	app                        bool
	appID, partnerID, prepayID string
	// problem, when set, says why no invocation can be signed (a field
	// missing, say); it names fields, never values.
	problem string
}

// prepayInvocation reads, from the plaintext body of a request to a prepay
// endpoint, what its invocation is signed for; nil for any other request or
// with request_payment off. The fields are read strictly (a field given
// twice, or not a string, is a problem): the app is signed for what WeChat
// Pay reads.
func (h *Handler) prepayInvocation(r *http.Request, body []byte) *invocationRequest {
	if !h.RequestPayment || r.Method != http.MethodPost {
		return nil
	}
	e := prepayEndpoints[r.URL.Path]
	if e == nil {
		return nil
	}
	inv := &invocationRequest{app: e.app}
	values, err := jsonfield.Find(body, e.fields)
	if err != nil {
		inv.problem = "the request's " + fieldOf(err) + " cannot be read: " + reasonOf(err)
		return inv
	}
	got := map[string]string{}
	for _, v := range values {
		got[v.Path()] = string(v.Plain)
	}
	inv.appID = got[e.appID]
	field := e.appID
	if sub, ok := got[e.subAppID]; ok && e.subAppID != "" {
		if _, when := got[e.subWhen]; e.subWhen == "" || when {
			inv.appID, field = sub, e.subAppID
		}
	}
	switch {
	case inv.appID == "":
		inv.problem = "the request has no " + field
	case e.app && got[e.partnerID] == "":
		inv.problem = "the request has no " + e.partnerID
	}
	inv.partnerID = got[e.partnerID]
	return inv
}

func fieldOf(err error) string {
	var fe *jsonfield.Error
	if errors.As(err, &fe) && fe.Field != "" {
		return fe.Field
	}
	return "body"
}

func reasonOf(err error) string {
	var fe *jsonfield.Error
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return "not JSON"
}

// sign signs the invocation of inv's prepay_id with the merchant key, now,
// and returns it as the JSON object the client API takes.
func (inv *invocationRequest) sign(signer *apiv3.Signer) ([]byte, error) {
	nonce, err := apiv3.NewNonce()
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	var obj any
	if inv.app {
		obj, err = apiv3.SignAPP(signer.Key, inv.appID, inv.partnerID, inv.prepayID, now, nonce)
	} else {
		obj, err = apiv3.SignJSAPI(signer.Key, inv.appID, inv.prepayID, now, nonce)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// withInvocation returns a verified 2xx prepay response with the
// request_payment member added before its closing brace, every other byte
// as WeChat Pay sent it; or the response unchanged, with the reason it got
// no invocation (logged).
func (h *Handler) withInvocation(body []byte, inv *invocationRequest, signer *apiv3.Signer) ([]byte, string) {
	if inv.problem != "" {
		return body, inv.problem
	}
	values, err := jsonfield.Find(body, prepayIDField)
	if err != nil {
		return body, "the response's prepay_id cannot be read: " + reasonOf(err)
	}
	if len(values) != 1 {
		return body, "the response has no prepay_id"
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return body, "the response is not a JSON object"
	}
	if _, taken := members[requestPaymentMember]; taken {
		return body, "the response already has a member named " + requestPaymentMember
	}
	signed := *inv
	signed.prepayID = string(values[0].Plain)
	member, err := signed.sign(signer)
	if err != nil {
		var ie *apiv3.InvocationError
		if errors.As(err, &ie) {
			return body, "the " + ie.Field + " " + ie.Reason
		}
		return body, "signing failed: " + err.Error()
	}
	// The body is one JSON object with a prepay_id member: the member goes
	// before its closing brace, after a comma.
	end := bytes.LastIndexByte(body, '}')
	out := make([]byte, 0, len(body)+len(member)+len(requestPaymentMember)+4)
	out = append(out, body[:end]...)
	out = append(out, `,"`+requestPaymentMember+`":`...)
	out = append(out, member...)
	return append(out, body[end:]...), ""
}

var prepayIDField = mustFieldSet("prepay_id")

func mustFieldSet(paths ...string) *jsonfield.Set {
	s, err := jsonfield.NewSet(paths...)
	if err != nil {
		panic(err)
	}
	return s
}

// reSignMembers are the members a re-sign request may have.
var (
	reSignMembers = []string{"type", "appid", "prepay_id", "partnerid"}
	reSignFields  = mustFieldSet(reSignMembers...)
)

// maxReSignBody bounds a re-sign request: four short strings.
const maxReSignBody = 4 << 10

// serveRequestPayment answers POST /wechatpay/request-payment:
// {"type":"jsapi"|"app","appid":"...","prepay_id":"...","partnerid":"..."
// (app only)} gets the invocation object, signed now. Nothing else is
// accepted (another member, a value that is not a string of the documented
// form, control characters), so that the signed message is always the four
// lines of an invocation.
func (h *Handler) serveRequestPayment(w http.ResponseWriter, r *http.Request, keys *keySet) error {
	buf, ae := readSigningRequest(w, r, maxReSignBody)
	if ae != nil {
		return h.refuse(w, r, ae)
	}
	defer proxyhttp.Release(buf)
	inv, ae := parseReSign(buf.Bytes())
	if ae != nil {
		return h.refuse(w, r, ae)
	}
	obj, err := inv.sign(keys.signer)
	if err != nil {
		var ie *apiv3.InvocationError
		if errors.As(err, &ie) {
			return h.refuse(w, r, &apiError{status: http.StatusBadRequest, code: codeParamError, field: ie.Field,
				message: ie.Field + ": " + ie.Reason})
		}
		return h.refuse(w, r, &apiError{status: http.StatusInternalServerError, code: codeProxyError, message: "signing the invocation failed", cause: err})
	}
	h.logger.Debug("signed a payment invocation again", zap.Bool("app", inv.app))
	h.metrics.request(r, metriclabels.Signed)
	writeJSON(w, http.StatusOK, obj)
	return nil
}

// parseReSign reads a re-sign request strictly.
func parseReSign(body []byte) (*invocationRequest, *apiError) {
	bad := func(field, reason string) (*invocationRequest, *apiError) {
		return nil, &apiError{status: http.StatusBadRequest, code: codeParamError, field: field, message: field + ": " + reason}
	}
	values, err := jsonfield.Find(body, reSignFields)
	if err != nil {
		return bad(fieldOf(err), reasonOf(err))
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return bad("body", "not a JSON object")
	}
	for name := range members {
		if !slices.Contains(reSignMembers, name) {
			// The name is the caller's text: named only when it is a
			// short plain name, never echoed otherwise.
			if !plainMemberName(name) {
				return bad("body", "has a member other than type, appid, prepay_id and partnerid")
			}
			return bad(name, "is not a member of a re-sign request (type, appid, prepay_id, partnerid)")
		}
	}
	got := map[string]string{}
	for _, v := range values {
		got[v.Path()] = string(v.Plain)
	}
	inv := &invocationRequest{appID: got["appid"], prepayID: got["prepay_id"], partnerID: got["partnerid"]}
	switch got["type"] {
	case "jsapi":
		if _, ok := got["partnerid"]; ok {
			return bad("partnerid", "is for type app only")
		}
	case "app":
		inv.app = true
		if inv.partnerID == "" {
			return bad("partnerid", "is required for type app")
		}
	case "":
		return bad("type", "is required: jsapi or app")
	default:
		return bad("type", "must be jsapi or app")
	}
	switch {
	case inv.appID == "":
		return bad("appid", "is required")
	case inv.prepayID == "":
		return bad("prepay_id", "is required")
	}
	return inv, nil
}

// plainMemberName reports whether a member name is short (32 bytes at
// most) and made of lower-case letters, digits and '_' only, as the
// members of WeChat Pay's requests are: such a name may be quoted back.
func plainMemberName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// readSigningRequest reads the body of a route the proxy answers itself by
// signing (the payment re-signing, the front-end forms): a POST, not a
// body type a web page sends without asking, at most limit bytes. The
// caller releases the buffer with proxyhttp.Release.
func readSigningRequest(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, *apiError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, message: r.URL.Path + " takes POST"}
	}
	if ae := refused(proxyhttp.CheckBodyType(r)); ae != nil {
		return nil, ae
	}
	buf, rf := proxyhttp.ReadBody(r, limit)
	if ae := refused(rf); ae != nil {
		return nil, ae
	}
	return buf, nil
}

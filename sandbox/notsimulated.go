package sandbox

import (
	"net/http"
	"sync"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/reference"
)

// NotSimulatedCode is the code of the signed 404 a documented WeChat Pay
// endpoint answers when the sandbox does not play it: not WeChat Pay's
// NOT_FOUND, whose words ("请求的接口不存在") say the URL is wrong.
const NotSimulatedCode = "SANDBOX_NOT_SIMULATED"

// documented is every documented APIv3 endpoint (wechatpay-endpoints.json).
var documented = sync.OnceValue(reference.Endpoints)

// DocumentedEndpoint finds the documented endpoint a request method and
// path are for, as MatchEndpoint does in the sensitive catalog; it returns
// its method, path template and title.
func DocumentedEndpoint(method, path string) (reference.Endpoint, bool) {
	best, found := -1, reference.Endpoint{}
	for _, e := range documented() {
		if e.Method != method {
			continue
		}
		if _, literals, ok := matchTemplate(e.Path, path); ok && literals > best {
			best, found = literals, e
		}
	}
	return found, best >= 0
}

// notSimulated is the signed 404 of a documented endpoint the sandbox does
// not play, naming it.
func notSimulated(x *Exchange, e reference.Endpoint) *answer {
	x.Endpoint = e.Method + " " + e.Path
	x.step("endpoint", false, x.Endpoint+" ("+e.Title+") is a WeChat Pay endpoint the sandbox does not simulate")
	return errorAnswer(http.StatusNotFound, NotSimulatedCode,
		"沙箱未模拟该接口："+e.Method+" "+e.Path+"（"+e.Title+"）。这是微信支付的有效接口，请求的URL没有错误。",
		map[string]string{"endpoint": e.Method + " " + e.Path, "title": e.Title,
			"issue": "documented WeChat Pay endpoint not simulated by the sandbox; the URL is right"})
}

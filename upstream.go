package wechatpay

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/proxyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// proxyInto runs the rest of the chain (reverse_proxy) into the buffer and
// turns its failures into WeChat Pay-shaped errors: the client gets a clear
// JSON response, never an empty 502 or a connection that simply drops.
//
// reverse_proxy panics with http.ErrAbortHandler when the upstream response
// breaks off mid-body (it has already sent the headers, in its view), or
// when the buffer refused more of a response that is too large; since
// nothing has reached the client here, that becomes a 502 too. The time
// next takes is added to upstream.
func proxyInto(resp *proxyhttp.BufferedResponse, r *http.Request, next caddyhttp.Handler, upstream *upstreamTimer) *apiError {
	began := time.Now()
	err := serveNext(resp, r, next)
	upstream.stop(began)
	switch {
	case errors.Is(err, errAborted) && resp.Overflowed():
		return refused(proxyhttp.ResponseTooLarge())
	case errors.Is(err, errAborted):
		return &apiError{status: http.StatusBadGateway, code: codeUpstreamIncomplete, message: "WeChat Pay's answer was cut short"}
	case err == nil && !resp.WroteHeader():
		return errNoUpstream
	}
	return upstreamError(err)
}

// errNoUpstream answers a request that no handler after wechatpay
// answered: the route has no reverse_proxy, so nothing reached WeChat Pay.
// It is not a verification failure, and is not counted as one.
var errNoUpstream = &apiError{status: http.StatusBadGateway, code: codeNoUpstream,
	message: "nothing answered after wechatpay: put reverse_proxy (to WeChat Pay) after wechatpay in the route; the request was not sent"}

// errAborted is serveNext's error when the next handler aborted its
// response.
var errAborted = errors.New("the response broke off")

// serveNext runs the next handler into w, turning reverse_proxy's
// http.ErrAbortHandler panic (the upstream's response broke off after its
// headers, or w refused more of it) into errAborted; any other panic goes
// on.
func serveNext(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared by identity
				panic(v)
			}
			err = errAborted
		}
	}()
	return next.ServeHTTP(w, r)
}

// upstreamError turns reverse_proxy's error into the response for the client,
// or nil for nil.
func upstreamError(err error) *apiError {
	if err == nil {
		return nil
	}
	status := http.StatusBadGateway
	var he caddyhttp.HandlerError
	if errors.As(err, &he) && he.StatusCode != 0 {
		status = he.StatusCode
	}
	switch {
	case status == http.StatusGatewayTimeout:
		return &apiError{status: status, code: codeUpstreamTimeout, message: "WeChat Pay did not answer in time", cause: err}
	case status >= 500 && notSent(err, status):
		return &apiError{status: http.StatusBadGateway, code: codeUpstreamUnreachable,
			message: "WeChat Pay could not be reached: the request was not sent, and may be sent again", cause: err}
	case status >= 500:
		return &apiError{status: http.StatusBadGateway, code: codeUpstreamUnreachable,
			message: "WeChat Pay could not be reached or the connection failed after the request was sent: query the order's state before sending it again", cause: err}
	default: // 499: the client went away; nobody is left to answer
		return &apiError{status: status, code: codeClientClosedRequest, message: "the client closed the request (" + strconv.Itoa(status) + ")"}
	}
}

// notSent reports whether reverse_proxy's error says the request never
// left: no connection could be made (a dial error: refused, DNS, dial
// timeout) or no upstream was available (Caddy's "no upstreams available",
// a 503). An app may then send it again; after any other failure it may
// have reached WeChat Pay, and a payment must be queried, not sent twice.
// A 503 alone says nothing: an lb_retry_match on a status ends, once its
// retries are spent, with the status WeChat Pay (or its gateway) answered.
func notSent(err error, status int) bool {
	var dial reverseproxy.DialError
	if errors.As(err, &dial) {
		return true
	}
	var he caddyhttp.HandlerError
	return status == http.StatusServiceUnavailable && errors.As(err, &he) && he.Err != nil &&
		he.Err.Error() == noUpstreams
}

// noUpstreams is the text of the error reverse_proxy returns when no
// upstream is available (errNoUpstream, unexported, in Caddy v2.11.9's
// reverseproxy.go).
const noUpstreams = "no upstreams available"

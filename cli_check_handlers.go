package wechatpay

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/platformcert"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// inlineHandlers returns a check target for every wechatpay and
// wechatpay_notify handler of the http app (raw, read with Caddy's own
// config types) with keys of its own; a handler that names a merchant is
// checked with the merchant. A wechatpay
// handler's call goes to the reverse_proxy that follows it in its site
// (the same top-level route) when its upstream is a fixed address.
func inlineHandlers(raw json.RawMessage) ([]*checkTarget, error) {
	if raw == nil {
		return nil, nil
	}
	var app caddyhttp.App
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, fmt.Errorf("the http app config: %w", err)
	}
	names := make([]string, 0, len(app.Servers))
	for name := range app.Servers {
		names = append(names, name)
	}
	slices.Sort(names)
	var targets []*checkTarget
	for _, server := range names {
		srv := app.Servers[server]
		if srv == nil {
			continue
		}
		counts := map[string]int{}
		for _, route := range srv.Routes {
			where := strings.Join(srv.Listen, " ")
			if hosts := routeHosts(route); hosts != "" {
				where = hosts
			}
			chain := flattenHandlers(route.HandlersRaw)
			for i, h := range chain {
				t, err := inlineTarget(h, chain[i+1:])
				if err != nil {
					return nil, err
				}
				if t == nil {
					continue
				}
				counts[t.name]++
				t.name = fmt.Sprintf("%s #%d of server %s (%s)", t.name, counts[t.name], server, where)
				targets = append(targets, t)
			}
		}
	}
	return targets, nil
}

// inlineTarget returns the target of handler h when it is a wechatpay or
// wechatpay_notify handler with keys of its own, else nil; after are the
// handlers that follow it in its site.
func inlineTarget(h json.RawMessage, after []json.RawMessage) (*checkTarget, error) {
	switch handlerKind(h) {
	case "wechatpay":
		var wh Handler
		if err := json.Unmarshal(h, &wh); err != nil {
			return nil, fmt.Errorf("a wechatpay handler: %w", err)
		}
		if wh.Merchant != "" {
			return nil, nil
		}
		t := &checkTarget{name: "wechatpay handler", keys: keyOptions{mchid: wh.MchID, serialNo: wh.SerialNo,
			privateKey: wh.PrivateKey, merchantCert: wh.MerchantCertificate, WechatPayKeys: wh.WechatPayKeys}}
		for _, next := range after {
			if handlerKind(next) == "reverse_proxy" {
				if u := upstreamURL(next); u != "" && u != platformcert.DefaultBaseURLs[0] {
					t.urls = URLList{u}
				} // WeChat Pay's own domain: the default list, its backup domain too
				break
			}
		}
		return t, nil
	case "wechatpay_notify":
		var nh NotifyHandler
		if err := json.Unmarshal(h, &nh); err != nil {
			return nil, fmt.Errorf("a wechatpay_notify handler: %w", err)
		}
		if nh.Merchant != "" {
			return nil, nil
		}
		return &checkTarget{name: "wechatpay_notify handler", notify: true,
			keys: keyOptions{apiv3Key: nh.APIv3Key, WechatPayKeys: nh.WechatPayKeys}}, nil
	}
	return nil, nil
}

// handlerKind returns the "handler" of a handler's JSON.
func handlerKind(h json.RawMessage) string {
	var v struct {
		Handler string `json:"handler"`
	}
	_ = json.Unmarshal(h, &v)
	return v.Handler
}

// flattenHandlers returns a route's handlers in the order a request meets
// them, those of subroutes (handle, route blocks) in place.
func flattenHandlers(handlers []json.RawMessage) []json.RawMessage {
	var out []json.RawMessage
	for _, h := range handlers {
		out = append(out, h)
		var sub caddyhttp.Subroute
		if handlerKind(h) == "subroute" && json.Unmarshal(h, &sub) == nil {
			for _, sr := range sub.Routes {
				out = append(out, flattenHandlers(sr.HandlersRaw)...)
			}
		}
	}
	return out
}

// routeHosts returns the hosts a route matches, "" when none.
func routeHosts(route caddyhttp.Route) string {
	var hosts []string
	for _, set := range route.MatcherSetsRaw {
		var m caddyhttp.MatchHost
		if raw, ok := set["host"]; ok && json.Unmarshal(raw, &m) == nil {
			hosts = append(hosts, m...)
		}
	}
	return strings.Join(hosts, " ")
}

// upstreamURL returns the base URL of a reverse_proxy handler's first
// upstream, "" when it has none or a dynamic one (a placeholder).
func upstreamURL(h json.RawMessage) string {
	var rp struct {
		Transport struct {
			TLS json.RawMessage `json:"tls"`
		} `json:"transport"`
		Upstreams []struct {
			Dial string `json:"dial"`
		} `json:"upstreams"`
	}
	if json.Unmarshal(h, &rp) != nil || len(rp.Upstreams) == 0 || rp.Upstreams[0].Dial == "" ||
		strings.Contains(rp.Upstreams[0].Dial, "{") {
		return ""
	}
	scheme, defaultPort := "http", "80"
	if rp.Transport.TLS != nil {
		scheme, defaultPort = "https", "443"
	}
	host, port, err := net.SplitHostPort(rp.Upstreams[0].Dial)
	if err != nil {
		return ""
	}
	if port == defaultPort {
		return scheme + "://" + hostForURL(host)
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// hostForURL brackets an IPv6 address.
func hostForURL(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

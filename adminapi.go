package wechatpay

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI adds two endpoints to Caddy's admin API (admin.api.wechatpay),
// for rotating keys without a configuration reload:
//
//	GET  /wechatpay/keys         the keys in use: merchant serial numbers,
//	                             merchant certificates' expiry and WeChat
//	                             Pay key IDs, never key material
//	POST /wechatpay/keys/reload  read every key again from the sources the
//	                             configuration names (key files,
//	                             {file./path}; {env.X} cannot change in a
//	                             running process) and use the new
//	                             keys from the next request on
//	GET  /wechatpay/clock        this host's clock against WeChat Pay's,
//	                             measured from the signatures verified
//
// A reload changes the keys of every merchant and handler at once, or,
// if one fails to load, none. Unlike a configuration reload it restarts
// no server, so it closes no connection: no request fails because of it.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.wechatpay",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/wechatpay/keys", Handler: caddy.AdminHandlerFunc(handleKeys)},
		{Pattern: "/wechatpay/keys/reload", Handler: caddy.AdminHandlerFunc(handleKeysReload)},
		{Pattern: "/wechatpay/clock", Handler: caddy.AdminHandlerFunc(handleClock)},
	}
}

func handleClock(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use GET", r.Method)}
	}
	return writeAdminJSON(w, hostClock.report())
}

func writeAdminJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// Interface guards
var _ caddy.AdminRouter = adminAPI{}

package wechatpay

import (
	"testing"
)

// TestHandlersShareTheCatalog: every handler uses the one built-in table
// compiled for the process; a handler's encrypt rules are its own and
// reach no other handler; with catalog off a handler has none of it.
func TestHandlersShareTheCatalog(t *testing.T) {
	ctx, _ := newConfigContext(t)
	a, b, off := new(Handler), new(Handler), new(Handler)
	provisionIn(t, ctx, a, handlerJSON(t, `,"encrypt":[{"method":"POST","path":"/v3/custom/{id}/cards","fields":["card_no"]}]`))
	provisionIn(t, ctx, b, handlerJSON(t, ""))
	provisionIn(t, ctx, off, handlerJSON(t, `,"catalog":false`))
	if a.routes.Base == nil || a.routes.Base != b.routes.Base {
		t.Fatalf("the handlers compiled the catalog each (%p, %p)", a.routes.Base, b.routes.Base)
	}
	if b.routes.Own != nil {
		t.Error("a handler without encrypt rules has a table of its own")
	}
	if a.routes.Lookup("POST", "/v3/custom/7/cards") == nil || b.routes.Lookup("POST", "/v3/custom/7/cards") != nil {
		t.Error("an encrypt rule is not its handler's alone")
	}
	if a.routes.Lookup("POST", "/v3/eduschoolpay/contracts/presign") == nil || b.routes.Lookup("POST", "/v3/eduschoolpay/contracts/presign") == nil {
		t.Error("the built-in catalog is missing")
	}
	if off.routes.Base != nil || off.routes.Lookup("POST", "/v3/eduschoolpay/contracts/presign") != nil {
		t.Error("catalog off still uses the built-in catalog")
	}
}

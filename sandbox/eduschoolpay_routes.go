package sandbox

import "net/http"

// eduRoutes are the 校园轻松付 endpoints and refunds the sandbox plays
// statefully (presign stays in the catalog's route: it has sensitive
// fields).
var eduRoutes = []struct {
	method, path string
	validate     func(*request) *answer
	handle       func(*Server, *request) *answer
	bodyless     bool
}{
	{http.MethodGet, ContractQueryPath, nil, (*Server).queryContract, false},
	{http.MethodPost, ContractTerminatePath, nil, (*Server).terminateContract, true},
	{http.MethodGet, UserContractsPath, validateUserContracts, (*Server).userContracts, false},
	{http.MethodPost, EduTransactionsPath, validateEduTransaction, (*Server).eduTransaction, false},
	{http.MethodGet, EduOrderByOutTradeNoPath, nil, (*Server).queryEduOrder, false},
	{http.MethodGet, EduOrderByIDPath, nil, (*Server).queryEduOrder, false},
	{http.MethodPost, RefundPath, validateRefund, (*Server).refund, false},
	{http.MethodGet, RefundQueryPath, nil, (*Server).queryRefund, false},
}

// eduRoute matches one of eduRoutes.
func eduRoute(method, path string) (route, bool) {
	for _, e := range eduRoutes {
		if e.method != method {
			continue
		}
		if params, _, ok := matchTemplate(e.path, path); ok {
			ep := Endpoint{Method: method, Path: e.path}
			if c, _, cataloged := MatchEndpoint(method, path); cataloged && c.Path == e.path {
				ep = c // its sensitive fields, should the catalog list any
			}
			return route{ep: ep, params: params, validate: e.validate, handle: e.handle, bodyless: e.bodyless}, true
		}
	}
	return route{}, false
}

package sandbox

import "net/http"

// eduRoutes are the 校园轻松付 endpoints and refunds the sandbox plays
// statefully (presign stays in the catalog's route: it has sensitive
// fields).
var eduRoutes = []struct {
	method, path string
	validate     func(*request) *answer
	handle       func(*Server, *request) *answer
}{
	{http.MethodGet, ContractQueryPath, nil, (*Server).queryContract},
	{http.MethodPost, EduTransactionsPath, validateEduTransaction, (*Server).eduTransaction},
	{http.MethodGet, EduOrderByOutTradeNoPath, nil, (*Server).queryEduOrder},
	{http.MethodGet, EduOrderByIDPath, nil, (*Server).queryEduOrder},
	{http.MethodPost, RefundPath, validateRefund, (*Server).refund},
	{http.MethodGet, RefundQueryPath, nil, (*Server).queryRefund},
}

// eduRoute matches one of eduRoutes.
func eduRoute(method, path string) (route, bool) {
	for _, e := range eduRoutes {
		if e.method != method {
			continue
		}
		if params, _, ok := matchTemplate(e.path, path); ok {
			return route{ep: Endpoint{Method: method, Path: e.path}, params: params, validate: e.validate, handle: e.handle}, true
		}
	}
	return route{}, false
}

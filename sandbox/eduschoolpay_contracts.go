package sandbox

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// More 校园轻松付 contract endpoints.
const (
	// ContractTerminatePath is 商户主动解约 (POST, no body), a path template.
	ContractTerminatePath = "/v3/eduschoolpay/contracts/{contract_id}/terminate"
	// UserContractsPath is 查询用户签约列表 (GET), a path template.
	UserContractsPath = "/v3/eduschoolpay/users/{openid}/contracts"
)

// contractNotFound is the page's 404 NOT_FOUND for a contract_id that
// names no contract of this merchant.
func contractNotFound(x *Exchange, id string) *answer {
	x.step("contract", false, "no contract "+id+" (contracts exist once the user signed)")
	return errorAnswer(http.StatusNotFound, "NOT_FOUND", "未找到对应合约", fieldDetail("path", "contract_id", "no such contract"))
}

// terminateContract plays 商户主动解约: the contract becomes DELETE (the
// queries still find it) and the answer is 204 with no body.
func (s *Server) terminateContract(req *request) *answer {
	id := req.params["contract_id"]
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	c, ok := s.edu.contracts[id]
	switch {
	case !ok:
		return contractNotFound(req.x, id)
	case c.Status != ContractSigned:
		return invalidRequest(req.x, "contract", "contract "+id+" is already "+c.Status, "合约已解约")
	}
	c.Status = ContractTerminated
	req.x.step("contract", true, id+" terminated")
	return &answer{status: http.StatusNoContent}
}

// validateUserContracts checks 查询用户签约列表's query parameters:
// plan_id and contract_status (ADD, DELETE or ALL) required, offset ≥ 0,
// limit 1 to 40.
func validateUserContracts(req *request) *answer {
	q := req.r.URL.Query()
	bad := func(name, issue, message string) *answer {
		req.x.step("query", false, name+": "+issue)
		return paramError(message, fieldDetail("query", name, issue))
	}
	if q.Get("plan_id") == "" {
		return bad("plan_id", "required", "缺少必填参数plan_id")
	}
	switch q.Get("contract_status") {
	case ContractSigned, ContractTerminated, "ALL":
	default:
		return bad("contract_status", "required, one of ADD, DELETE, ALL", "contract_status应为ADD、DELETE或ALL")
	}
	if _, ok := queryInt(q, "offset", 0, 0, 1<<30); !ok {
		return bad("offset", "an integer not less than 0", "offset应为不小于0的整数")
	}
	if _, ok := queryInt(q, "limit", 20, 1, 40); !ok {
		return bad("limit", "an integer from 1 to 40", "limit应为1到40的整数")
	}
	req.x.step("query", true, "plan_id, contract_status, offset, limit")
	return nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int) (int, bool) {
	if !q.Has(name) {
		return def, true
	}
	n, err := strconv.Atoi(q.Get(name))
	return n, err == nil && n >= lo && n <= hi
}

// userContracts plays 查询用户签约列表: the user's contracts of the plan,
// signed ones before terminated ones, a page of them.
func (s *Server) userContracts(req *request) *answer {
	q := req.r.URL.Query()
	offset, _ := queryInt(q, "offset", 0, 0, 1<<30)
	limit, _ := queryInt(q, "limit", 20, 1, 40)
	status := q.Get("contract_status")
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	var found []*contractRecord
	for _, c := range s.edu.contracts {
		if c.OpenID == req.params["openid"] && c.PlanID == q.Get("plan_id") && (status == "ALL" || c.Status == status) {
			found = append(found, c)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Status != found[j].Status {
			return found[i].Status == ContractSigned
		}
		return found[i].seq < found[j].seq
	})
	page := []*contractRecord{}
	if offset < len(found) {
		page = found[offset:min(offset+limit, len(found))]
	}
	req.x.step("contracts", true, strconv.Itoa(len(found))+" contracts of the plan for this user")
	return jsonAnswer(http.StatusOK, map[string]any{"data": page, "offset": offset, "limit": limit, "total_count": len(found)})
}

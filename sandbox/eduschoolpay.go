package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// The 校园轻松付 (eduschoolpay) endpoints the sandbox plays, besides
// PresignPath. Their fields follow WeChat Pay's reference pages
// (pay.weixin.qq.com/docs/partner/apis/campus-easy-pay/...), cited in
// docs/sandbox.md.
const (
	// ContractSignPath is the sandbox's stand-in for the 校园轻松付 signing
	// mini program (POST, not a WeChat Pay API: no Authorization): the
	// user signs with the presign_token, {"presign_token", "openid"}.
	ContractSignPath = "/sandbox/eduschoolpay/contracts/sign"
	// ContractQueryPath is 通过协议号查询签约 (GET), a path template.
	ContractQueryPath = "/v3/eduschoolpay/contracts/{contract_id}"
	// EduTransactionsPath is 扣款 (POST).
	EduTransactionsPath = "/v3/eduschoolpay/transactions"
	// EduOrderByOutTradeNoPath is 商户订单号查单 (GET), a path template.
	EduOrderByOutTradeNoPath = "/v3/eduschoolpay/transactions/out-trade-no/{out_trade_no}"
	// EduOrderByIDPath is 微信支付订单号查单 (GET), a path template.
	EduOrderByIDPath = "/v3/eduschoolpay/transactions/id/{transaction_id}"
)

// PresignTokenLifetime is how long a presign_token can be signed with.
// WeChat Pay's pages do not give its lifetime; this is the sandbox's.
const PresignTokenLifetime = 2 * time.Hour

// MaxEduRecords bounds each kind of record the sandbox keeps per merchant
// (presign tokens, contracts, orders, refunds); past it a new one is
// refused with 500 SYSTEM_ERROR.
const MaxEduRecords = 10000

// Contract statuses, as 通过协议号查询签约 names them.
const (
	ContractSigned     = "ADD"
	ContractTerminated = "DELETE"
)

// presignRecord is what a presign_token stands for.
type presignRecord struct {
	appID, openID, planID, userID, schoolID, outContractCode string
	expires                                                  time.Time
}

// contractRecord is a signed contract.
type contractRecord struct {
	ID              string `json:"contract_id"`
	MchID           string `json:"mchid"`
	AppID           string `json:"appid"`
	OpenID          string `json:"openid"`
	PlanID          string `json:"plan_id"`
	Status          string `json:"contract_status"`
	CreateTime      string `json:"create_time"`
	OutContractCode string `json:"out_contract_code"`
	userID          string
	schoolID        string
	seq             int // signing order, for the user's contract list
}

// eduState is one merchant's 校园轻松付 day: presign tokens, contracts,
// orders and refunds.
type eduState struct {
	mu        sync.Mutex
	presigns  map[string]presignRecord
	contracts map[string]*contractRecord
	orders    map[string]*eduOrder // by out_trade_no
	byTxID    map[string]string    // transaction_id → out_trade_no
	refunds   map[string]*refundRecord
}

func (e *eduState) init() {
	if e.presigns == nil {
		e.presigns = map[string]presignRecord{}
		e.contracts = map[string]*contractRecord{}
		e.orders = map[string]*eduOrder{}
		e.byTxID = map[string]string{}
		e.refunds = map[string]*refundRecord{}
	}
}

// full is the answer when a kind of record reached MaxEduRecords.
func full(x *Exchange, what string) *answer {
	x.step("state", false, fmt.Sprintf("the sandbox keeps at most %d %s per merchant", MaxEduRecords, what))
	return errorAnswer(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误（沙箱记录已满，请重启沙箱）", nil)
}

// presign answers {"presign_token": "..."} and remembers what the token
// stands for, so that the user can sign with it (ContractSignPath).
func (s *Server) presign(req *request) *answer {
	root := gjson.ParseBytes(req.body)
	token := "sandbox_" + randomNonce(40)
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	s.edu.init()
	if len(s.edu.presigns) >= MaxEduRecords {
		s.edu.purgePresigns(s.now())
		if len(s.edu.presigns) >= MaxEduRecords {
			return full(req.x, "presign tokens")
		}
	}
	s.edu.presigns[token] = presignRecord{
		appID: root.Get("appid").Str, openID: root.Get("openid").Str, planID: root.Get("plan_id").Str,
		userID: root.Get("user_id").Str, schoolID: root.Get("school_id").Str,
		outContractCode: root.Get("out_contract_code").Str,
		expires:         s.now().Add(PresignTokenLifetime),
	}
	req.x.step("answer", true, "presign_token issued; the user signs with it at "+ContractSignPath)
	return jsonAnswer(http.StatusOK, map[string]string{"presign_token": token})
}

func (e *eduState) purgePresigns(now time.Time) {
	for t, p := range e.presigns {
		if !now.Before(p.expires) {
			delete(e.presigns, t)
		}
	}
}

// knowsPresign reports whether this server issued the token.
func (s *Server) knowsPresign(token string) bool {
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	_, ok := s.edu.presigns[token]
	return ok
}

// Codes of the simulated signing mini program's refusals (the sandbox's
// own, unsigned: the mini program shows them to the user).
const (
	SignParamError    = "PARAM_ERROR"
	SignTokenInvalid  = "PRESIGN_TOKEN_INVALID"
	SignAlreadySigned = "CONTRACT_ALREADY_EXISTS"
)

// signAnswer is an unsigned answer of the simulated mini program.
func signRefusal(x *Exchange, status int, code, message, issue string) *answer {
	x.step("signing", false, issue)
	a := errorAnswer(status, code, message, nil)
	a.unsigned, a.unsignedNote = true, "unsigned: the simulated signing mini program's own answer, not WeChat Pay's"
	return a
}

// signContract plays the user signing in the 校园轻松付 mini program: the
// presign_token must be one this merchant got, unexpired and unused, and
// openid the presign's user. It answers the new contract.
func (s *Server) signContract(r *http.Request, body []byte, x *Exchange) *answer {
	x.Endpoint = r.Method + " " + ContractSignPath
	if r.Method != http.MethodPost {
		return signRefusal(x, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "请使用POST签约", "the simulated mini program takes POST")
	}
	x.step("endpoint", true, x.Endpoint+": the simulated 校园轻松付 signing mini program, no Authorization needed")
	root := gjson.ParseBytes(body)
	if !json.Valid(body) || !root.IsObject() {
		return signRefusal(x, http.StatusBadRequest, SignParamError, "签约参数应为JSON对象", "body is not a JSON object")
	}
	token, openid := root.Get("presign_token"), root.Get("openid")
	if token.Type != gjson.String || token.Str == "" {
		return signRefusal(x, http.StatusBadRequest, SignParamError, "缺少presign_token", "presign_token: required, a non-empty string")
	}
	if openid.Type != gjson.String || openid.Str == "" {
		return signRefusal(x, http.StatusBadRequest, SignParamError, "缺少openid", "openid: required, a non-empty string (the user who signs)")
	}
	// WeChat Pay's FAQ wording for a wrong, expired or other user's token.
	const invalid = "预签约码有误或已过期，请联系学校技术运营商处理"
	now := s.now()
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	s.edu.init()
	p, ok := s.edu.presigns[token.Str]
	switch {
	case !ok:
		return signRefusal(x, http.StatusBadRequest, SignTokenInvalid, invalid, "presign_token unknown or already used")
	case !now.Before(p.expires):
		delete(s.edu.presigns, token.Str)
		return signRefusal(x, http.StatusBadRequest, SignTokenInvalid, invalid, "presign_token expired")
	case openid.Str != p.openID:
		return signRefusal(x, http.StatusBadRequest, SignTokenInvalid, invalid, "openid is not the presign's user")
	}
	for _, c := range s.edu.contracts {
		if c.Status == ContractSigned && c.PlanID == p.planID && (c.OpenID == p.openID || c.OutContractCode == p.outContractCode) {
			return signRefusal(x, http.StatusBadRequest, SignAlreadySigned, "用户已签约该签约模板，或外部签约号已被使用",
				"a signed contract of plan "+p.planID+" exists for this user or out_contract_code")
		}
	}
	if len(s.edu.contracts) >= MaxEduRecords {
		return full(x, "contracts")
	}
	delete(s.edu.presigns, token.Str) // a token signs once
	c := &contractRecord{
		ID: randomDigits(28), MchID: s.cfg.MchID, AppID: p.appID, OpenID: p.openID, PlanID: p.planID,
		Status: ContractSigned, CreateTime: now.In(chinaZone).Format(time.RFC3339),
		OutContractCode: p.outContractCode, userID: p.userID, schoolID: p.schoolID, seq: len(s.edu.contracts),
	}
	s.edu.contracts[c.ID] = c
	x.step("signing", true, "contract "+c.ID+" signed (plan "+c.PlanID+")")
	a := jsonAnswer(http.StatusOK, c)
	a.unsigned, a.unsignedNote = true, "unsigned: the simulated signing mini program's own answer, not WeChat Pay's"
	return a
}

// queryContract answers 通过协议号查询签约: the contract, or 404 NOT_FOUND
// (the page: a contract that does not exist answers a clear error code).
func (s *Server) queryContract(req *request) *answer {
	id := req.params["contract_id"]
	s.edu.mu.Lock()
	defer s.edu.mu.Unlock()
	c, ok := s.edu.contracts[id]
	if !ok {
		return contractNotFound(req.x, id)
	}
	req.x.step("contract", true, id+" "+c.Status)
	return jsonAnswer(http.StatusOK, c)
}

package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tidwall/gjson"
)

// Merchants is one sandbox for several merchants: an http.Handler that
// gives each request to the Server of its merchant, as WeChat Pay judges
// each merchant by its own keys. A WeChat Pay request goes to the Server
// whose MchID is the Authorization's mchid, which then checks serial_no
// and the signature against that merchant's certificate; a request whose
// Authorization names no known merchant (or does not parse) goes to the
// first Server, which refuses it with 401 SIGN_ERROR as WeChat Pay does.
// The simulated WeChat client (ClientRequestPaymentPath) and signing mini
// program (ContractSignPath) carry no Authorization: they go to the Server
// that issued their prepay_id or presign_token.
//
// Each merchant keeps its own state (contracts, orders, refunds, nonces).
type Merchants struct {
	servers []*Server
	byMchID map[string]*Server
}

// NewMerchants serves the given Servers, one per merchant number.
func NewMerchants(servers ...*Server) (*Merchants, error) {
	if len(servers) == 0 {
		return nil, errors.New("sandbox: no merchant to serve")
	}
	m := &Merchants{servers: servers, byMchID: map[string]*Server{}}
	for _, s := range servers {
		if _, dup := m.byMchID[s.cfg.MchID]; dup {
			return nil, fmt.Errorf("sandbox: merchant %s given twice", s.cfg.MchID)
		}
		m.byMchID[s.cfg.MchID] = s
	}
	return m, nil
}

// Server returns the Server of a merchant number, or nil.
func (m *Merchants) Server(mchid string) *Server { return m.byMchID[mchid] }

// SetFaults sets the answer faults of every merchant's Server.
func (m *Merchants) SetFaults(f Faults) {
	for _, s := range m.servers {
		s.SetFaults(f)
	}
}

// ServeHTTP hands the request to its merchant's Server.
func (m *Merchants) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.pick(r).ServeHTTP(w, r)
}

// pick chooses the Server for r; see Merchants.
func (m *Merchants) pick(r *http.Request) *Server {
	switch r.URL.Path {
	case ClientRequestPaymentPath, ContractSignPath:
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		if err != nil {
			return m.servers[0]
		}
		for _, s := range m.servers {
			if s.issued(r.URL.Path, body) {
				return s
			}
		}
		return m.servers[0]
	case ClientSendCouponPath, ClientH5CouponPath, ClientPayscoreDetailPath:
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		if s := m.byMchID[formMerchant(body)]; err == nil && s != nil {
			return s
		}
		return m.servers[0]
	}
	if p, err := parseAuthorization(r.Header.Get("Authorization")); err == nil {
		if s := m.byMchID[p["mchid"]]; s != nil {
			return s
		}
	}
	return m.servers[0]
}

// formMerchant is the merchant number a front-end form names: the coupon
// plugin's send_coupon_merchant, the H5 coupon URL's, or the payscore
// detail's mch_id (in extraData, queryString or query). That merchant's
// APIv2 key signed it.
func formMerchant(body []byte) string {
	root := gjson.ParseBytes(body)
	if v := root.Get("send_coupon_merchant").Str; v != "" {
		return v
	}
	if v := root.Get("extraData.mch_id").Str; v != "" {
		return v
	}
	for _, member := range []string{"url", "queryString", "query"} {
		raw := root.Get(member).Str
		if u, err := url.Parse(raw); err == nil && u.RawQuery != "" {
			raw = u.RawQuery
		}
		if q, err := url.ParseQuery(raw); err == nil {
			if v := q.Get("send_coupon_merchant") + q.Get("mch_id"); v != "" {
				return v
			}
		}
	}
	return ""
}

// issued reports whether this Server issued the prepay_id or presign_token
// a client or signing body names.
func (s *Server) issued(path string, body []byte) bool {
	root := gjson.ParseBytes(body)
	if path == ContractSignPath {
		return s.knowsPresign(root.Get("presign_token").Str)
	}
	id := root.Get("prepayid").Str
	if pkg := root.Get("package").Str; strings.HasPrefix(pkg, "prepay_id=") {
		id = strings.TrimPrefix(pkg, "prepay_id=")
	}
	_, ok := s.prepays.lookup(id)
	return ok
}

// LoadCredentialSets loads every credential set in dir's immediate
// subdirectories (each holding credentials.json, as `caddy wechatpay
// keygen <dir>/<name> --mchid <n>` writes them), sorted by directory name.
// It returns none, and no error, when dir holds no such subdirectory; two
// sets of one merchant number are an error. Sets written before the
// sandbox made APIv3 keys get one (see EnsureAPIv3Key).
func LoadCredentialSets(dir string) ([]*Credentials, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox credentials: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var sets []*Credentials
	where := map[string]string{}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, CredentialsFile)); err != nil {
			continue
		}
		c, err := LoadCredentials(sub)
		if err != nil {
			return nil, err
		}
		if err := c.EnsureAPIv3Key(); err != nil {
			return nil, err
		}
		if first, dup := where[c.MchID]; dup {
			return nil, fmt.Errorf("sandbox credentials: %s and %s are both sets of merchant %s", first, sub, c.MchID)
		}
		where[c.MchID] = sub
		sets = append(sets, c)
	}
	return sets, nil
}

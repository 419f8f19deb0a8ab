package wechatpay

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
)

// route is one endpoint with sensitive fields.
type route struct {
	method string
	// template is the path as documented, e.g. "/v3/facemch/users/{face_sid}".
	template string

	bodyPaths, queryNames, responsePaths []string

	body     *jsonfield.Set  // request body fields, nil if none
	query    map[string]bool // query parameters, nil if none
	response *jsonfield.Set  // response fields, nil if none
}

// routeRules are the sensitive fields of one route, as configured.
type routeRules struct {
	Body, Query, Response []string
}

// routeTable finds the route of a request by method and path. It is a trie
// over path segments, so a lookup costs one map access per segment however
// many routes there are; a literal segment wins over a {param} one.
type routeTable struct {
	root routeNode
}

type routeNode struct {
	literal map[string]*routeNode
	param   *routeNode
	routes  map[string]*route // by method
	// anyMethod holds the request rules of every method of this path. A
	// request with another method (HEAD for a GET, PUT for a POST) gets
	// them, since a server may route it to the same handler: its
	// sensitive values must not go out in plaintext.
	anyMethod *route
}

// add registers rules for method and template. With replace unset they are
// merged into the rules of a route already there; with replace set they
// take the place of those rules.
func (t *routeTable) add(method, template string, rules routeRules, replace bool) error {
	method = strings.ToUpper(method)
	if method == "" {
		return fmt.Errorf("missing HTTP method")
	}
	if !strings.HasPrefix(template, "/") {
		return fmt.Errorf("path %q must start with /", template)
	}
	if len(rules.Body)+len(rules.Query)+len(rules.Response) == 0 {
		return fmt.Errorf("%s %s: no fields", method, template)
	}
	node := &t.root
	for _, seg := range strings.Split(strings.TrimPrefix(template, "/"), "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && len(seg) > 2 {
			if node.param == nil {
				node.param = &routeNode{}
			}
			node = node.param
			continue
		}
		if seg == "" || strings.ContainsAny(seg, "{}") {
			return fmt.Errorf("path %q has an invalid segment %q", template, seg)
		}
		seg = strings.ToLower(seg)
		if node.literal == nil {
			node.literal = make(map[string]*routeNode)
		}
		next := node.literal[seg]
		if next == nil {
			next = &routeNode{}
			node.literal[seg] = next
		}
		node = next
	}
	if node.routes == nil {
		node.routes = make(map[string]*route)
	}
	r := node.routes[method]
	if r == nil {
		r = &route{method: method, template: template}
		node.routes[method] = r
	} else if replace {
		// A rule replaces what is encrypted in the request; the answer
		// fields that WeChat Pay encrypts stay as catalogued.
		r.bodyPaths, r.queryNames = nil, nil
	}
	r.bodyPaths = mergeUnique(r.bodyPaths, rules.Body)
	r.queryNames = mergeUnique(r.queryNames, rules.Query)
	r.responsePaths = mergeUnique(r.responsePaths, rules.Response)
	if err := r.compile(); err != nil {
		return err
	}
	return node.compileAnyMethod(template)
}

// compileAnyMethod rebuilds the union of the request rules of the node's
// methods (answer fields are left out: they are decrypted only for the
// documented method).
func (n *routeNode) compileAnyMethod(template string) error {
	u := &route{method: "*", template: template}
	for _, r := range n.routes {
		u.bodyPaths = mergeUnique(u.bodyPaths, r.bodyPaths)
		u.queryNames = mergeUnique(u.queryNames, r.queryNames)
	}
	if len(u.bodyPaths)+len(u.queryNames) == 0 {
		n.anyMethod = nil
		return nil
	}
	if err := u.compile(); err != nil {
		return err
	}
	n.anyMethod = u
	return nil
}

// compile builds the matchers of a route from its lists.
func (r *route) compile() error {
	var err error
	r.body, r.response, r.query = nil, nil, nil
	if len(r.bodyPaths) > 0 {
		if r.body, err = jsonfield.NewSet(r.bodyPaths...); err != nil {
			return fmt.Errorf("%s %s: %w", r.method, r.template, err)
		}
	}
	if len(r.responsePaths) > 0 {
		if r.response, err = jsonfield.NewSet(r.responsePaths...); err != nil {
			return fmt.Errorf("%s %s: response: %w", r.method, r.template, err)
		}
	}
	if len(r.queryNames) > 0 {
		r.query = make(map[string]bool, len(r.queryNames))
		for _, q := range r.queryNames {
			if q == "" || strings.ContainsAny(q, "&=?#") {
				return fmt.Errorf("%s %s: invalid query parameter name %q", r.method, r.template, q)
			}
			r.query[q] = true
		}
	}
	return nil
}

// queryNames returns every sensitive query parameter name of the table, in
// lower case.
func (t *routeTable) queryNames() []string {
	var names []string
	var walk func(n *routeNode)
	walk = func(n *routeNode) {
		for _, r := range n.routes {
			for _, q := range r.queryNames {
				names = mergeUnique(names, []string{strings.ToLower(q)})
			}
		}
		for _, c := range n.literal {
			walk(c)
		}
		if n.param != nil {
			walk(n.param)
		}
	}
	walk(&t.root)
	return names
}

// mentionsAny reports whether a raw query mentions any of names (lower
// case), as sent or percent-decoded, in any case.
func mentionsAny(rawQuery string, names []string) bool {
	q := strings.ToLower(rawQuery)
	if dec, err := url.QueryUnescape(q); err == nil {
		q += "&" + strings.ToLower(dec)
	}
	for _, n := range names {
		if strings.Contains(q, n) {
			return true
		}
	}
	return false
}

func mergeUnique(list, add []string) []string {
	for _, v := range add {
		found := false
		for _, have := range list {
			if have == v {
				found = true
				break
			}
		}
		if !found {
			list = append(list, v)
		}
	}
	return list
}

// lookup returns the route for a request, or nil. Paths are compared without
// regard to case: every documented path is lower case, and a server that
// ignores case must not receive plaintext because a client wrote "Presign".
func (t *routeTable) lookup(method, path string) *route {
	if !strings.HasPrefix(path, "/") {
		return nil
	}
	return t.root.match(strings.ToUpper(method), strings.ToLower(path[1:]))
}

func (n *routeNode) match(method, rest string) *route {
	if rest == "" {
		if r := n.routes[method]; r != nil {
			return r
		}
		return n.anyMethod
	}
	seg, tail, more := strings.Cut(rest, "/")
	if seg == "" || (more && tail == "") {
		return nil // empty segment or trailing slash: no documented route
	}
	if next := n.literal[seg]; next != nil {
		if r := next.match(method, tail); r != nil {
			return r
		}
	}
	if n.param != nil {
		return n.param.match(method, tail)
	}
	return nil
}

package catalog

import (
	"fmt"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
)

// Route is one endpoint with sensitive fields, as the table compiled it.
// Its fields are read-only.
type Route struct {
	// Method is the route's HTTP method, or "*" for the union of a path's
	// request rules that any other method gets.
	Method string
	// Template is the path as documented, e.g. "/v3/facemch/users/{face_sid}".
	Template string
	// Body are the request body fields, nil if none.
	Body *jsonfield.Set
	// Query are the query parameter names, nil if none.
	Query map[string]bool
	// Response are the response fields, nil if none.
	Response *jsonfield.Set

	bodyPaths, queryNames, responsePaths []string
}

// Rules are the sensitive fields of one route, as configured: body field
// paths, query parameter names and response field paths.
type Rules struct {
	Body, Query, Response []string
}

// Table finds the Route of a request by method and path. It is a trie
// over path segments, so a lookup costs one map access per segment however
// many routes there are; a literal segment wins over a {param} one.
type Table struct {
	root trieNode
}

type trieNode struct {
	literal map[string]*trieNode
	param   *trieNode
	routes  map[string]*Route // by method
	// anyMethod holds the request rules of every method of this path. A
	// request with another method (HEAD for a GET, PUT for a POST) gets
	// them, since a server may Route it to the same handler: its
	// sensitive values must not go out in plaintext.
	anyMethod *Route
}

// Add registers rules for method and template. With replace unset they are
// merged into the rules of a Route already there; with replace set they
// take the place of those rules.
func (t *Table) Add(method, template string, rules Rules, replace bool) error {
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
				node.param = &trieNode{}
			}
			node = node.param
			continue
		}
		if seg == "" || strings.ContainsAny(seg, "{}") {
			return fmt.Errorf("path %q has an invalid segment %q", template, seg)
		}
		seg = strings.ToLower(seg)
		if node.literal == nil {
			node.literal = make(map[string]*trieNode)
		}
		next := node.literal[seg]
		if next == nil {
			next = &trieNode{}
			node.literal[seg] = next
		}
		node = next
	}
	if node.routes == nil {
		node.routes = make(map[string]*Route)
	}
	r := node.routes[method]
	if r == nil {
		r = &Route{Method: method, Template: template}
		node.routes[method] = r
	} else if replace {
		// A rule replaces what is encrypted in the request; the response
		// fields that WeChat Pay encrypts stay as cataloged.
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
// methods (response fields are left out: they are decrypted only for the
// documented method).
func (n *trieNode) compileAnyMethod(template string) error {
	u := &Route{Method: "*", Template: template}
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

// compile builds the matchers of a Route from its lists.
func (r *Route) compile() error {
	var err error
	r.Body, r.Response, r.Query = nil, nil, nil
	if len(r.bodyPaths) > 0 {
		if r.Body, err = jsonfield.NewSet(r.bodyPaths...); err != nil {
			return fmt.Errorf("%s %s: %w", r.Method, r.Template, err)
		}
	}
	if len(r.responsePaths) > 0 {
		if r.Response, err = jsonfield.NewSet(r.responsePaths...); err != nil {
			return fmt.Errorf("%s %s: response: %w", r.Method, r.Template, err)
		}
	}
	if len(r.queryNames) > 0 {
		r.Query = make(map[string]bool, len(r.queryNames))
		for _, q := range r.queryNames {
			if q == "" || strings.ContainsAny(q, "&=?#") {
				return fmt.Errorf("%s %s: invalid query parameter name %q", r.Method, r.Template, q)
			}
			r.Query[q] = true
		}
	}
	return nil
}

// QueryNames returns every sensitive query parameter name of the table, in
// lower case.
func (t *Table) QueryNames() []string {
	var names []string
	var walk func(n *trieNode)
	walk = func(n *trieNode) {
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

// lookup returns the Route for a request, or nil. Paths are compared without
// regard to case: every documented path is lower case, and a server that
// ignores case must not receive plaintext because a client wrote "Presign".
func (t *Table) Lookup(method, path string) *Route {
	if !strings.HasPrefix(path, "/") {
		return nil
	}
	return t.root.match(strings.ToUpper(method), strings.ToLower(path[1:]))
}

func (n *trieNode) match(method, rest string) *Route {
	if rest == "" {
		if r := n.routes[method]; r != nil {
			return r
		}
		return n.anyMethod
	}
	seg, tail, more := strings.Cut(rest, "/")
	if seg == "" || (more && tail == "") {
		return nil // empty segment or trailing slash: no documented Route
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

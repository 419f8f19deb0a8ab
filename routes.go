package wechatpay

import (
	"fmt"
	"strings"
)

// route is one endpoint with sensitive request fields.
type route struct {
	method string
	// template is the path as documented, e.g. "/v3/facemch/users/{face_sid}".
	template string
	// paths are the field paths, in the order they were configured.
	paths  []string
	fields *FieldSet
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
}

// add registers fields for method and template, merging them with the fields
// of a route already there.
func (t *routeTable) add(method, template string, paths []string) error {
	method = strings.ToUpper(method)
	if method == "" {
		return fmt.Errorf("missing HTTP method")
	}
	if !strings.HasPrefix(template, "/") {
		return fmt.Errorf("path %q must start with /", template)
	}
	if len(paths) == 0 {
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
	}
	for _, p := range paths {
		if !contains(r.paths, p) {
			r.paths = append(r.paths, p)
		}
	}
	fields, err := NewFieldSet(r.paths...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, template, err)
	}
	r.fields = fields
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
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
		return n.routes[method]
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

package catalog

import (
	"fmt"
	"strings"
	"sync"
)

// Template is one documented APIv3 endpoint: its method and path template.
type Template struct {
	// Method is the HTTP method, upper case.
	Method string
	// Path is the path template as documented, e.g.
	// "/v3/pay/transactions/out-trade-no/{out_trade_no}".
	Path string
}

// TemplateIndex finds the documented path template a request path is an
// instance of, for a metric label that must never be the raw path. Like
// Table it is a trie over path segments, built once; a lookup walks one
// map access per segment and allocates nothing.
type TemplateIndex struct {
	root templateNode
	n    int
}

type templateNode struct {
	literal map[string]*templateNode
	param   *templateNode
	ends    []Template // the templates ending here, first added first
}

// maxFoldedSegment is the longest segment with upper-case letters that
// Match lowers in a buffer on its stack; a longer one is lowered with
// strings.ToLower, which allocates (no documented segment is near it).
const maxFoldedSegment = 64

// NewTemplateIndex returns an index of templates.
func NewTemplateIndex(templates []Template) (*TemplateIndex, error) {
	x := new(TemplateIndex)
	for _, t := range templates {
		if err := x.Add(t.Method, t.Path); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// endpointIndex is the index of Templates, shared by every handler that
// adds no template of its own.
var endpointIndex = sync.OnceValues(func() (*TemplateIndex, error) { return NewTemplateIndex(Templates) })

// EndpointIndex returns the index of every documented APIv3 endpoint
// (Templates), built on first use and shared: it is never changed. It
// panics if a generated template does not parse, which a test rules out.
func EndpointIndex() *TemplateIndex {
	x, err := endpointIndex()
	if err != nil {
		panic("catalog: " + err.Error())
	}
	return x
}

// WithTemplates returns a new index holding x's templates and more; x is
// left as it is.
func (x *TemplateIndex) WithTemplates(more []Template) (*TemplateIndex, error) {
	out := new(TemplateIndex)
	var walk func(n *templateNode) error
	walk = func(n *templateNode) error {
		for _, t := range n.ends {
			if err := out.Add(t.Method, t.Path); err != nil {
				return err
			}
		}
		for _, c := range n.literal {
			if err := walk(c); err != nil {
				return err
			}
		}
		if n.param != nil {
			return walk(n.param)
		}
		return nil
	}
	if err := walk(&x.root); err != nil {
		return nil, err
	}
	for _, t := range more {
		if err := out.Add(t.Method, t.Path); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Len returns how many templates the index holds.
func (x *TemplateIndex) Len() int { return x.n }

// Add adds a template. A template of the same method whose segments are
// the same but for the names of its {param}s is already the answer for
// every path it matches: the one added first stays.
func (x *TemplateIndex) Add(method, template string) error {
	method = strings.ToUpper(method)
	if method == "" {
		return fmt.Errorf("template %q: missing HTTP method", template)
	}
	if !strings.HasPrefix(template, "/") {
		return fmt.Errorf("template %q must start with /", template)
	}
	node := &x.root
	for _, seg := range strings.Split(template[1:], "/") {
		if len(seg) > 2 && strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if node.param == nil {
				node.param = &templateNode{}
			}
			node = node.param
			continue
		}
		if seg == "" || strings.ContainsAny(seg, "{}") {
			return fmt.Errorf("template %q has an invalid segment %q", template, seg)
		}
		seg = strings.ToLower(seg)
		if node.literal == nil {
			node.literal = make(map[string]*templateNode)
		}
		next := node.literal[seg]
		if next == nil {
			next = &templateNode{}
			node.literal[seg] = next
		}
		node = next
	}
	for _, t := range node.ends {
		if t.Method == method {
			return nil
		}
	}
	node.ends = append(node.ends, Template{Method: method, Path: template})
	x.n++
	return nil
}

// Match returns the path template of a request of method, or "" when no
// template of that method fits: a request with another method than the
// path's documented one (HEAD on a GET download, PUT on a POST) names no
// endpoint, so that no client can mint a label per path and method. A
// literal segment wins over a {param} one. Literal segments compare
// without regard to case, as Table's do.
func (x *TemplateIndex) Match(method, path string) string {
	if x == nil || !strings.HasPrefix(path, "/") {
		return ""
	}
	return x.root.match(method, path[1:])
}

// match finds the template of method for rest below n.
func (n *templateNode) match(method, rest string) string {
	if rest == "" {
		for _, t := range n.ends {
			if t.Method == method {
				return t.Path
			}
		}
		return ""
	}
	seg, tail, more := strings.Cut(rest, "/")
	if seg == "" || (more && tail == "") {
		return "" // an empty segment or a trailing slash: no documented path
	}
	if next := n.literalChild(seg); next != nil {
		if t := next.match(method, tail); t != "" {
			return t
		}
	}
	if n.param != nil {
		return n.param.match(method, tail)
	}
	return ""
}

// literalChild returns the child of n for the literal segment seg, compared
// without regard to case. An ASCII segment of up to maxFoldedSegment bytes
// is lowered in a buffer on the stack; only a longer one, or one with other
// than ASCII, that has upper-case letters costs an allocation.
func (n *templateNode) literalChild(seg string) *templateNode {
	if n.literal == nil {
		return nil
	}
	upper, ascii := false, true
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= 0x80:
			ascii = false
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	switch {
	case ascii && !upper:
		return n.literal[seg]
	case !ascii || len(seg) > maxFoldedSegment:
		return n.literal[strings.ToLower(seg)]
	}
	var buf [maxFoldedSegment]byte
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return n.literal[string(buf[:len(seg)])]
}

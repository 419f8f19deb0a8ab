package catalog

import (
	"strings"
	"sync"
)

// Builtin returns the route table of the built-in catalog (Entries),
// compiled once per process and shared by every handler: it is never
// changed after it is built, so it is safe for concurrent use. A handler's
// own rules go into a Layered table over it.
var Builtin = sync.OnceValues(func() (*Table, error) {
	t := new(Table)
	for _, e := range Entries {
		if err := t.Add(e.Method, e.Path, Rules{Body: e.Body, Query: e.Query, Response: e.Response}, false); err != nil {
			return nil, err
		}
	}
	return t, nil
})

// Layered is a handler's route table: its own rules (Own, nil without any)
// over a shared base table (Base, nil with the catalog off). Own holds, for
// every path template one of its rules names, the base's rules of that
// template too (AddOwn copies them), so a route found in Own is complete;
// any other request is looked up in Base. Base is only read.
type Layered struct {
	Base, Own *Table
}

// AddOwn adds a rule to Own, first copying there every base entry of the
// same path template (all methods, so that the rules other methods get are
// their union, as in one table). entries are the base's entries.
func (l *Layered) AddOwn(entries []Entry, method, template string, rules Rules, replace bool) error {
	if l.Own == nil {
		l.Own = new(Table)
	}
	key := templateKey(template)
	if l.Base != nil {
		for _, e := range entries {
			if templateKey(e.Path) != key || l.Own.has(e.Method, e.Path) {
				continue
			}
			if err := l.Own.Add(e.Method, e.Path, Rules{Body: e.Body, Query: e.Query, Response: e.Response}, false); err != nil {
				return err
			}
		}
	}
	return l.Own.Add(method, template, rules, replace)
}

// has reports whether t holds a route for exactly method and template's
// node.
func (t *Table) has(method, template string) bool {
	node := &t.root
	for _, seg := range strings.Split(strings.TrimPrefix(template, "/"), "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			node = node.param
		} else {
			node = node.literal[strings.ToLower(seg)]
		}
		if node == nil {
			return false
		}
	}
	return node.routes[strings.ToUpper(method)] != nil
}

// templateKey is a template with its parameter names left out and in lower
// case: two templates with the same key are one node of a table.
func templateKey(template string) string {
	segs := strings.Split(strings.ToLower(template), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// Lookup returns the Route of a request, as one table with the rules of
// both would: of Own's and Base's routes for it, the more specific (a
// literal segment wins over a {param} one at the first segment where
// their templates differ); Own's for the same template.
func (l *Layered) Lookup(method, path string) *Route {
	var own, base *Route
	if l.Own != nil {
		own = l.Own.Lookup(method, path)
	}
	if l.Base != nil {
		base = l.Base.Lookup(method, path)
	}
	switch {
	case own == nil:
		return base
	case base == nil || moreSpecific(own.Template, base.Template) >= 0:
		return own
	}
	return base
}

// moreSpecific compares two templates matching the same path: > 0 when a
// is more specific, < 0 when b is, 0 when they are the same node.
func moreSpecific(a, b string) int {
	as, bs := strings.Split(templateKey(a), "/"), strings.Split(templateKey(b), "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		switch ap, bp := as[i] == "{}", bs[i] == "{}"; {
		case ap == bp:
			continue
		case bp:
			return 1
		default:
			return -1
		}
	}
	return 0
}

// QueryNames returns every sensitive query parameter name of both tables,
// in lower case.
func (l *Layered) QueryNames() []string {
	var names []string
	for _, t := range []*Table{l.Base, l.Own} {
		if t != nil {
			names = mergeUnique(names, t.QueryNames())
		}
	}
	return names
}

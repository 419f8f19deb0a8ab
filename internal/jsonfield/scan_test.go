package jsonfield

import (
	"errors"
	"strings"
	"testing"
)

func TestSetPaths(t *testing.T) {
	for _, bad := range []string{"", "a..b", ".a", "a.", "a.#", "a.*", "a.b?", "a|b", "a.@this", `a\`} {
		if _, err := NewSet(bad); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
	for _, conflict := range [][]string{{"a", "a.b"}, {"a.b", "a"}, {"a.#.b", "a.#.b.c"}} {
		if _, err := NewSet(conflict...); err == nil {
			t.Errorf("%q: a path that is both a value and a container was accepted", conflict)
		}
	}
	if s, _ := NewSet(); !s.Empty() {
		t.Error("a set of no paths is not empty")
	}
	var none *Set
	if !none.Empty() {
		t.Error("a nil set is not empty")
	}
}

// TestFind checks the spans, decoded values and concrete paths Find reports:
// each span must be the string literal in the document, quotes included.
func TestFind(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		paths     []string
		want      map[string]string // concrete path -> decoded value
	}{
		{"nested", `{"a":{"b":"x"},"c":"y"}`, []string{"a.b", "c"}, map[string]string{"a.b": "x", "c": "y"}},
		{"array", `{"l":[{"n":"p"},{"m":1},{"n":"q"}]}`, []string{"l.#.n"}, map[string]string{"l.0.n": "p", "l.2.n": "q"}},
		{"escapes", `{"k":"\u5f20\n\"","real\u005fname":"v"}`, []string{"k", "real_name"}, map[string]string{"k": "张\n\"", "real_name": "v"}},
		{"escaped dot", `{"a.b":"x","a":{"b":"y"}}`, []string{`a\.b`}, map[string]string{"a.b": "x"}},
		{"absent and other keys", `{"z":{"b":1},"n":[1,2,{"x":null}],"t":true}`, []string{"a.b"}, map[string]string{}},
		{"white space", " {\n \"a\" :\t\"x\" } \n", []string{"a"}, map[string]string{"a": "x"}},
	} {
		set, err := NewSet(c.paths...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Find([]byte(c.doc), set)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d values, want %d", c.name, len(got), len(c.want))
		}
		for _, v := range got {
			lit := c.doc[v.Start:v.End]
			if lit[0] != '"' || lit[len(lit)-1] != '"' {
				t.Errorf("%s: span %q is not a string literal", c.name, lit)
			}
			if want, ok := c.want[v.Path()]; !ok || string(v.Plain) != want {
				t.Errorf("%s: %s = %q, want %q", c.name, v.Path(), v.Plain, want)
			}
		}
	}
}

// TestFindRefusals: every refusal is an *Error that names the field (when
// there is one) and never quotes a value.
func TestFindRefusals(t *testing.T) {
	const secret = "SECRETVALUE"
	for _, c := range []struct {
		name, doc, field, reason string
	}{
		{"not an object", `["` + secret + `"]`, "", "JSON object"},
		{"number", `{"a":1}`, "a", "must be a JSON string"},
		{"null", `{"a":null}`, "a", "must be a JSON string"},
		{"object", `{"a":{"x":"` + secret + `"}}`, "a", "must be a JSON string"},
		{"parent not an object", `{"p":"` + secret + `"}`, "p", "must be"},
		{"duplicate", `{"a":"` + secret + `","a":"b"}`, "a", "more than once"},
		{"duplicate parent", `{"p":{"c":"x"},"p":{"c":"` + secret + `"}}`, "p", "more than once"},
		{"case twin", `{"A":"` + secret + `"}`, "a", ""},
		{"trailing data", `{"a":"x"}{}`, "", "after the JSON object"},
		{"bad utf-8", "{\"a\":\"\xff\"}", "", "UTF-8"},
		{"lone surrogate", `{"a":"\ud800"}`, "", ""},
		{"truncated", `{"a":"` + secret, "", "invalid JSON"},
	} {
		set, _ := NewSet("a", "p.c")
		_, err := Find([]byte(c.doc), set)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want an *Error", c.name, err)
			continue
		}
		if fe.Field != c.field && !(c.field == "a" && strings.EqualFold(fe.Field, "a")) {
			t.Errorf("%s: field %q, want %q (%v)", c.name, fe.Field, c.field, err)
		}
		if !strings.Contains(fe.Reason, c.reason) {
			t.Errorf("%s: reason %q, want it to say %q", c.name, fe.Reason, c.reason)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the value: %v", c.name, err)
		}
	}
}

// TestSyntaxErrorQuotesNoByte: a value sent without quotes is refused
// without any byte of it in the message (its first byte was quoted once).
func TestSyntaxErrorQuotesNoByte(t *testing.T) {
	set, _ := NewSet("name")
	for _, doc := range []string{`{"name":张三}`, `{"other":Zhang San}`, `{"name":"x",ABC}`} {
		_, err := Find([]byte(doc), set)
		if err == nil {
			t.Fatalf("%s: accepted", doc)
		}
		for _, b := range []string{"张", "Z", "A"} {
			if strings.Contains(doc, b) && strings.Contains(err.Error(), b) {
				t.Errorf("%s: the error quotes %q: %v", doc, b, err)
			}
		}
	}
}

func TestFindOptionalSkipsNull(t *testing.T) {
	set, _ := NewSet("a", "b")
	got, err := FindOptional([]byte(`{"a":null,"b":"x"}`), set)
	if err != nil || len(got) != 1 || got[0].Path() != "b" {
		t.Fatalf("%v, %v", got, err)
	}
	if _, err := Find([]byte(`{"a":null}`), set); err == nil {
		t.Error("Find accepted null at a named path")
	}
}

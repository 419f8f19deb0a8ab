package catalog

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestLayeredLikeOneTable: a Layered table (the shared built-in table and
// a handler's own rules over it) finds, for every request, the same route
// with the same rules as one table holding both, whatever the own rules
// do: add fields to a cataloged route, replace them, add a method to a
// cataloged path, or a {param} route where the catalog has a literal one.
func TestLayeredLikeOneTable(t *testing.T) {
	base, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Builtin(); again != base {
		t.Fatal("Builtin compiled the catalog twice")
	}
	type rule struct {
		method, path string
		rules        Rules
		replace      bool
	}
	e := Entries[0]
	own := []rule{
		{e.Method, e.Path, Rules{Body: []string{"extra_field"}}, false},
		{"GET", e.Path, Rules{Query: []string{"id_no"}}, false},
		{"POST", "/v3/custom/{id}/cards", Rules{Body: []string{"card_no"}}, false},
		{"POST", "/v3/eduschoolpay/contracts/{x}", Rules{Body: []string{"other"}}, false},
		{"POST", "/v3/eduschoolpay/contracts/presign", Rules{Body: []string{"only_this"}}, true},
	}
	// A {param} rule where the catalog has a literal path: the
	// catalog's literal route must still win for it.
	for _, en := range Entries {
		if segs := strings.Split(en.Path, "/"); !strings.Contains(en.Path, "{") && len(segs) > 3 && !strings.Contains(en.Path, "presign") && en.Path != e.Path {
			segs[2] = "{svc}"
			own = append(own, rule{en.Method, strings.Join(segs, "/"), Rules{Body: []string{"param_field"}}, false})
			break
		}
	}
	var one Table
	for _, en := range Entries {
		if err := one.Add(en.Method, en.Path, Rules{Body: en.Body, Query: en.Query, Response: en.Response}, false); err != nil {
			t.Fatal(err)
		}
	}
	layered := Layered{Base: base}
	for _, r := range own {
		if err := one.Add(r.method, r.path, r.rules, r.replace); err != nil {
			t.Fatal(err)
		}
		if err := layered.AddOwn(Entries, r.method, r.path, r.rules, r.replace); err != nil {
			t.Fatal(err)
		}
	}
	describe := func(r *Route) string {
		if r == nil {
			return "none"
		}
		return fmt.Sprint(r.Method, " ", templateKey(r.Template), r.bodyPaths, r.queryNames, r.responsePaths)
	}
	paths := []string{"/v3/custom/77/cards", "/v3/eduschoolpay/contracts/abc", "/v3/unknown"}
	for _, en := range Entries {
		paths = append(paths, strings.NewReplacer("{", "x", "}", "").Replace(en.Path))
	}
	for _, r := range own {
		paths = append(paths, strings.NewReplacer("{", "x", "}", "").Replace(r.path))
	}
	checked := 0
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"} {
			if got, want := describe(layered.Lookup(m, p)), describe(one.Lookup(m, p)); got != want {
				t.Errorf("%s %s: layered %s, one table %s", m, p, got, want)
			}
			checked++
		}
	}
	if got, want := slices.Sorted(slices.Values(layered.QueryNames())), slices.Sorted(slices.Values(one.QueryNames())); !slices.Equal(got, want) {
		t.Errorf("query names: layered %v, one table %v", got, want)
	}
	// The base table is untouched by the own rules.
	if r := base.Lookup("POST", "/v3/custom/77/cards"); r != nil {
		t.Error("an own rule went into the shared table")
	}
	if r := base.Lookup("POST", "/v3/eduschoolpay/contracts/presign"); r == nil || slices.Contains(r.bodyPaths, "only_this") {
		t.Error("a replacing own rule changed the shared table")
	}
	t.Logf("%d lookups compared", checked)
}

package catalog

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/reference"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestCatalogMatchesReference: the generated catalog holds the reference
// file entry for entry (run `go generate ./internal/catalog` after updating
// the file).
func TestCatalogMatchesReference(t *testing.T) {
	nilIfEmpty := func(v []string) []string {
		if len(v) == 0 {
			return nil
		}
		return v
	}
	key := func(e Entry) string { return e.Method + " " + e.Path }
	want := map[string]Entry{}
	for _, e := range reference.SensitiveEndpoints() {
		entry := Entry{Method: e.Method, Path: e.Path,
			Body: nilIfEmpty(e.RequestBody), Query: nilIfEmpty(e.RequestQuery), Response: nilIfEmpty(e.ResponseBody)}
		if _, dup := want[key(entry)]; dup {
			t.Errorf("%s listed twice", key(entry))
		}
		want[key(entry)] = entry
	}
	if len(Entries) != len(want) {
		t.Errorf("catalog has %d entries, reference %d", len(Entries), len(want))
	}
	for _, e := range Entries {
		if !reflect.DeepEqual(e, want[key(e)]) {
			t.Errorf("%s differs:\n got %+v\nwant %+v", key(e), e, want[key(e)])
		}
	}
}

func TestCatalogCounts(t *testing.T) {
	var body, query, resp int
	for _, e := range Entries {
		body += len(e.Body)
		query += len(e.Query)
		resp += len(e.Response)
	}
	if len(Entries) != 127 || body != 236 || query != 16 || resp != 59 {
		t.Errorf("catalog: %d endpoints, %d body fields, %d query parameters, %d response fields; want 127/236/16/59",
			len(Entries), body, query, resp)
	}
}

func TestRouteTableFindsEveryEndpoint(t *testing.T) {
	var table Table
	for _, e := range Entries {
		if err := table.Add(e.Method, e.Path, Rules{Body: e.Body, Query: e.Query, Response: e.Response}, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range Entries {
		rt := table.Lookup(e.Method, testkit.ConcretePath(e.Path))
		if rt == nil || rt.Template != e.Path || rt.Method != e.Method {
			t.Errorf("%s %s: lookup found %+v", e.Method, e.Path, rt)
		}
		// Another method (HEAD for GET, PUT for POST) gets the path's
		// request rules too: a lenient server may route it alike.
		other := map[string]string{"GET": "HEAD", "POST": "PUT", "PATCH": "PUT"}[e.Method]
		rt = table.Lookup(other, testkit.ConcretePath(e.Path))
		switch {
		case len(e.Body)+len(e.Query) == 0:
			if rt != nil && (rt.Template == e.Path || rt.Response != nil) {
				t.Errorf("%s %s has no request fields, yet %s gets %+v", e.Method, e.Path, other, rt)
			}
		case rt == nil || rt.Method != "*" || rt.Template != e.Path || rt.Body == nil && rt.Query == nil || rt.Response != nil:
			t.Errorf("%s %s: %s gets %+v", e.Method, e.Path, other, rt)
		}
		if rt := table.Lookup(e.Method, testkit.ConcretePath(e.Path)+"/extra"); rt != nil && rt.Template == e.Path {
			t.Errorf("%s %s matched a longer path", e.Method, e.Path)
		}
	}
	// A literal segment wins over a {param} one.
	if rt := table.Lookup("GET", "/v3/aggracct-bc/wb-channel/bank-channel-account/rename/APP123"); rt == nil ||
		!strings.HasSuffix(rt.Template, "{application_id}") {
		t.Errorf("param route not found: %+v", rt)
	}
	allocs := testing.AllocsPerRun(100, func() {
		table.Lookup("POST", "/v3/eduschoolpay/contracts/presign")
		table.Lookup("GET", "/v3/facemch/users/sid123")
	})
	if allocs != 0 {
		t.Errorf("lookup of a lower-case path allocates %.1f times", allocs)
	}
}

func TestEncryptRuleExtendsOrReplaces(t *testing.T) {
	var table Table
	table.Add("POST", "/v3/x/{id}", Rules{Body: []string{"a"}}, false)
	table.Add("POST", "/v3/x/{id}", Rules{Body: []string{"b"}, Query: []string{"q"}}, false)
	rt := table.Lookup("POST", "/v3/x/1")
	if !reflect.DeepEqual(rt.bodyPaths, []string{"a", "b"}) || !rt.Query["q"] {
		t.Errorf("extend: %+v", rt)
	}
	table.Add("POST", "/v3/x/{id}", Rules{Body: []string{"c"}}, true)
	rt = table.Lookup("POST", "/v3/x/1")
	if !reflect.DeepEqual(rt.bodyPaths, []string{"c"}) || rt.Query != nil {
		t.Errorf("replace: %+v", rt)
	}
}

func BenchmarkRouteLookup(b *testing.B) {
	var table Table
	for _, e := range Entries {
		table.Add(e.Method, e.Path, Rules{Body: e.Body, Query: e.Query, Response: e.Response}, false)
	}
	for b.Loop() {
		table.Lookup("POST", "/v3/eduschoolpay/contracts/presign")
	}
}

// TestReplaceKeepsResponseFields: replacing a route's request rule leaves
// the response fields WeChat Pay encrypts as cataloged.
func TestReplaceKeepsResponseFields(t *testing.T) {
	var table Table
	table.Add("POST", "/v3/x", Rules{Body: []string{"a"}, Response: []string{"r"}}, false)
	table.Add("POST", "/v3/x", Rules{Body: []string{"b"}}, true)
	rt := table.Lookup("POST", "/v3/x")
	if !reflect.DeepEqual(rt.bodyPaths, []string{"b"}) || !reflect.DeepEqual(rt.responsePaths, []string{"r"}) || rt.Response == nil {
		t.Errorf("after replace: body %v, response %v", rt.bodyPaths, rt.responsePaths)
	}
}

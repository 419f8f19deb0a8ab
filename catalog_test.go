package wechatpay

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// referenceFiles are the copies of wechatpay-sensitive-fields.json the
// catalogue must match: the shared reference beside the checkout (present in
// CI and in sessions) and the copy in the repository.
var referenceFiles = []string{
	"../shared/reference/wechatpay-sensitive-fields.json",
	"sandbox/wechatpay-sensitive-fields.json",
}

func loadReference(t *testing.T, path string) []catalogEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var ref struct {
		Endpoints []struct {
			Method       string   `json:"method"`
			Path         string   `json:"path"`
			RequestBody  []string `json:"request_body"`
			RequestQuery []string `json:"request_query"`
			ResponseBody []string `json:"response_body"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []catalogEntry
	nilIfEmpty := func(v []string) []string {
		if len(v) == 0 {
			return nil
		}
		return v
	}
	for _, e := range ref.Endpoints {
		out = append(out, catalogEntry{Method: e.Method, Path: e.Path,
			Body: nilIfEmpty(e.RequestBody), Query: nilIfEmpty(e.RequestQuery), Response: nilIfEmpty(e.ResponseBody)})
	}
	return out
}

// TestCatalogMatchesReference: the generated catalogue holds the reference
// file entry for entry (run `go generate` after updating the file).
func TestCatalogMatchesReference(t *testing.T) {
	compared := 0
	for _, file := range referenceFiles {
		ref := loadReference(t, file)
		if ref == nil {
			t.Logf("%s not present", file)
			continue
		}
		compared++
		key := func(e catalogEntry) string { return e.Method + " " + e.Path }
		want := map[string]catalogEntry{}
		for _, e := range ref {
			if _, dup := want[key(e)]; dup {
				t.Errorf("%s: %s listed twice", file, key(e))
			}
			want[key(e)] = e
		}
		if len(catalog) != len(want) {
			t.Errorf("%s: catalogue has %d entries, reference %d", file, len(catalog), len(want))
		}
		for _, e := range catalog {
			if !reflect.DeepEqual(e, want[key(e)]) {
				t.Errorf("%s: %s differs:\n got %+v\nwant %+v", file, key(e), e, want[key(e)])
			}
		}
	}
	if compared == 0 {
		t.Fatal("no reference file found")
	}
}

func TestCatalogCounts(t *testing.T) {
	var body, query, resp int
	for _, e := range catalog {
		body += len(e.Body)
		query += len(e.Query)
		resp += len(e.Response)
	}
	if len(catalog) != 127 || body != 236 || query != 16 || resp != 59 {
		t.Errorf("catalogue: %d endpoints, %d body fields, %d query parameters, %d response fields; want 127/236/16/59",
			len(catalog), body, query, resp)
	}
}

// concretePath fills each {param} segment of a template.
func concretePath(template string) string {
	segs := strings.Split(template, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "P" + strings.Trim(s, "{}") + "-123"
		}
	}
	return strings.Join(segs, "/")
}

func TestRouteTableFindsEveryEndpoint(t *testing.T) {
	var table routeTable
	for _, e := range catalog {
		if err := table.add(e.Method, e.Path, routeRules{Body: e.Body, Query: e.Query, Response: e.Response}, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range catalog {
		rt := table.lookup(e.Method, concretePath(e.Path))
		if rt == nil || rt.template != e.Path || rt.method != e.Method {
			t.Errorf("%s %s: lookup found %+v", e.Method, e.Path, rt)
		}
		// Another method (HEAD for GET, PUT for POST) gets the path's
		// request rules too: a lenient server may route it alike.
		other := map[string]string{"GET": "HEAD", "POST": "PUT", "PATCH": "PUT"}[e.Method]
		rt = table.lookup(other, concretePath(e.Path))
		switch {
		case len(e.Body)+len(e.Query) == 0:
			if rt != nil && (rt.template == e.Path || rt.response != nil) {
				t.Errorf("%s %s has no request fields, yet %s gets %+v", e.Method, e.Path, other, rt)
			}
		case rt == nil || rt.method != "*" || rt.template != e.Path || rt.body == nil && rt.query == nil || rt.response != nil:
			t.Errorf("%s %s: %s gets %+v", e.Method, e.Path, other, rt)
		}
		if rt := table.lookup(e.Method, concretePath(e.Path)+"/extra"); rt != nil && rt.template == e.Path {
			t.Errorf("%s %s matched a longer path", e.Method, e.Path)
		}
	}
	// A literal segment wins over a {param} one.
	if rt := table.lookup("GET", "/v3/aggracct-bc/wb-channel/bank-channel-account/rename/APP123"); rt == nil ||
		!strings.HasSuffix(rt.template, "{application_id}") {
		t.Errorf("param route not found: %+v", rt)
	}
	allocs := testing.AllocsPerRun(100, func() {
		table.lookup("POST", "/v3/eduschoolpay/contracts/presign")
		table.lookup("GET", "/v3/facemch/users/sid123")
	})
	if allocs != 0 {
		t.Errorf("lookup of a lower-case path allocates %.1f times", allocs)
	}
}

func TestEncryptRuleExtendsOrReplaces(t *testing.T) {
	var table routeTable
	table.add("POST", "/v3/x/{id}", routeRules{Body: []string{"a"}}, false)
	table.add("POST", "/v3/x/{id}", routeRules{Body: []string{"b"}, Query: []string{"q"}}, false)
	rt := table.lookup("POST", "/v3/x/1")
	if !reflect.DeepEqual(rt.bodyPaths, []string{"a", "b"}) || !rt.query["q"] {
		t.Errorf("extend: %+v", rt)
	}
	table.add("POST", "/v3/x/{id}", routeRules{Body: []string{"c"}}, true)
	rt = table.lookup("POST", "/v3/x/1")
	if !reflect.DeepEqual(rt.bodyPaths, []string{"c"}) || rt.query != nil {
		t.Errorf("replace: %+v", rt)
	}
}

func BenchmarkRouteLookup(b *testing.B) {
	var table routeTable
	for _, e := range catalog {
		table.add(e.Method, e.Path, routeRules{Body: e.Body, Query: e.Query, Response: e.Response}, false)
	}
	for b.Loop() {
		table.lookup("POST", "/v3/eduschoolpay/contracts/presign")
	}
}

// TestReplaceKeepsResponseFields: replacing a route's request rule leaves
// the answer fields WeChat Pay encrypts as catalogued.
func TestReplaceKeepsResponseFields(t *testing.T) {
	var table routeTable
	table.add("POST", "/v3/x", routeRules{Body: []string{"a"}, Response: []string{"r"}}, false)
	table.add("POST", "/v3/x", routeRules{Body: []string{"b"}}, true)
	rt := table.lookup("POST", "/v3/x")
	if !reflect.DeepEqual(rt.bodyPaths, []string{"b"}) || !reflect.DeepEqual(rt.responsePaths, []string{"r"}) || rt.response == nil {
		t.Errorf("after replace: body %v, response %v", rt.bodyPaths, rt.responsePaths)
	}
}

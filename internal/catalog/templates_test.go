package catalog

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/reference"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// TestTemplatesMatchReference: the generated templates are the reference
// file's endpoints, in its order (run `go generate ./internal/catalog`
// after updating the file).
func TestTemplatesMatchReference(t *testing.T) {
	ref := reference.Endpoints()
	if len(Templates) != len(ref) || len(ref) != 866 {
		t.Fatalf("%d templates, %d endpoints in the reference; want 866", len(Templates), len(ref))
	}
	for i, e := range ref {
		if Templates[i] != (Template{Method: e.Method, Path: e.Path}) {
			t.Errorf("template %d is %v, the reference has %s %s", i, Templates[i], e.Method, e.Path)
		}
	}
}

// paramRE matches a {param} segment.
var paramRE = regexp.MustCompile(`\{[^/}]+\}`)

// shape is a template with its parameter names left out.
func shape(path string) string { return paramRE.ReplaceAllString(path, "{}") }

// TestEndpointIndexMatchesEveryEndpoint: an instance of each of the 866
// documented endpoints is labelled with its own template (or, for the one
// pair of templates that differ only in a parameter's name, with the one
// listed first), by its method and by HEAD; longer paths, trailing slashes
// and empty segments are not.
func TestEndpointIndexMatchesEveryEndpoint(t *testing.T) {
	x := EndpointIndex()
	if x.Len() != 865 {
		t.Errorf("index holds %d templates; want 865 (866 less the one that differs from another in a parameter name only)", x.Len())
	}
	first := map[string]string{} // method + shape -> the first template
	for _, e := range Templates {
		if _, ok := first[e.Method+" "+shape(e.Path)]; !ok {
			first[e.Method+" "+shape(e.Path)] = e.Path
		}
	}
	same := 0
	for _, e := range Templates {
		want := first[e.Method+" "+shape(e.Path)]
		if want == e.Path {
			same++
		}
		p := testkit.ConcretePath(e.Path)
		if got := x.Match(e.Method, p); got != want {
			t.Errorf("%s %s: labelled %q, want %q", e.Method, p, got, want)
		}
		if got := x.Match(e.Method, strings.ToUpper(p)); got != want {
			t.Errorf("%s %s in upper case: labelled %q, want %q", e.Method, p, got, want)
		}
		if got := x.Match(e.Method, p+"/"); got != "" {
			t.Errorf("%s %s/: labelled %q", e.Method, p, got)
		}
		if got := x.Match(e.Method, strings.Replace(p, "/v3/", "/v3//", 1)); got != "" {
			t.Errorf("%s %s with an empty segment: labelled %q", e.Method, p, got)
		}
		if got := x.Match(e.Method, p+"/x-extra"); got == e.Path {
			t.Errorf("%s %s/x-extra: labelled with the shorter template", e.Method, p)
		}
		// Another method names no endpoint: no client can mint a
		// label per path and method.
		if got := x.Match("HEAD", p); got != "" {
			t.Errorf("HEAD %s: labelled %q", p, got)
		}
	}
	if same != 865 {
		t.Errorf("%d endpoints labelled with their own template; want 865", same)
	}
}

// TestEndpointIndexPrefersMethodAndLiteral: a literal segment wins over a
// {param}; only a template of the request's method answers.
func TestEndpointIndexPrefersMethodAndLiteral(t *testing.T) {
	x := EndpointIndex()
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/v3/aggracct-bc/wb-channel/control-orders/punish", "/v3/aggracct-bc/wb-channel/control-orders/punish"},
		{"GET", "/v3/aggracct-bc/wb-channel/control-orders/punish", "/v3/aggracct-bc/wb-channel/control-orders/{out_request_no}"},
		{"GET", "/v3/aggracct-bc/wb-channel/control-orders/R123", "/v3/aggracct-bc/wb-channel/control-orders/{out_request_no}"},
		{"GET", "/v3/pay/transactions/out-trade-no/T1", "/v3/pay/transactions/out-trade-no/{out_trade_no}"},
		{"GET", "/V3/Pay/Transactions/Out-Trade-No/T1", "/v3/pay/transactions/out-trade-no/{out_trade_no}"},
		{"HEAD", "/v3/billdownload/file", ""},
		{"PUT", "/v3/eduschoolpay/contracts/presign", ""},
		{"POST", "/v3/eduschoolpay/contracts/presign", "/v3/eduschoolpay/contracts/presign"},
		{"POST", "/v3/no-such-api", ""},
		{"GET", "/", ""},
		{"GET", "", ""},
		{"GET", "v3/pay/transactions/out-trade-no/T1", ""},
		{"GET", "/v3/pay/transactions/out-trade-no/", ""},
	} {
		if got := x.Match(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

// TestTemplateIndexNeverReturnsThePath: whatever the path, the label is a
// template the index holds or nothing, never text of the request.
func TestTemplateIndexNeverReturnsThePath(t *testing.T) {
	x, err := EndpointIndex().WithTemplates([]Template{{"POST", "/v3/custom/{id}/thing"}})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"": true, "/v3/custom/{id}/thing": true}
	for _, e := range Templates {
		known[e.Path] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"v3", "pay", "transactions", "id", "out-trade-no", "custom", "thing", "", "{id}", "ÄÖ", "K", "%2F",
		strings.Repeat("A", 70), "billdownload", "file", "refund", "domestic", "refunds"}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(7); n >= 0; n-- {
			b.WriteString("/" + segs[rng.IntN(len(segs))])
		}
		p := b.String()
		if got := x.Match([]string{"GET", "POST", "PUT", "DELETE", "BREW"}[rng.IntN(5)], p); !known[got] {
			t.Fatalf("%s labelled %q, not a template", p, got)
		}
	}
	if got := x.Match("POST", "/v3/custom/42/thing"); got != "/v3/custom/{id}/thing" {
		t.Errorf("extra template: %q", got)
	}
	if got := EndpointIndex().Match("POST", "/v3/custom/42/thing"); got != "" {
		t.Errorf("WithTemplates changed the shared index: %q", got)
	}
	if x.Len() != EndpointIndex().Len()+1 {
		t.Errorf("WithTemplates: %d templates, want %d", x.Len(), EndpointIndex().Len()+1)
	}
}

func TestTemplateIndexRefusesBadTemplates(t *testing.T) {
	for _, bad := range []Template{{"", "/v3/x"}, {"GET", "v3/x"}, {"GET", "/v3//x"}, {"GET", "/v3/x{y}"}, {"GET", "/v3/x/"}} {
		if _, err := NewTemplateIndex([]Template{bad}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestTemplateMatchAllocatesNothing: a lookup costs no allocation, for a
// path in lower case (every documented one) or with upper-case letters.
func TestTemplateMatchAllocatesNothing(t *testing.T) {
	x := EndpointIndex()
	allocs := testing.AllocsPerRun(200, func() {
		x.Match("POST", "/v3/eduschoolpay/contracts/presign")
		x.Match("GET", "/v3/pay/transactions/out-trade-no/T1")
		x.Match("GET", "/V3/Pay/Transactions/Out-Trade-No/T1")
		x.Match("HEAD", "/v3/billdownload/file")
		x.Match("GET", "/v3/no-such-api/at/all")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %.1f times", allocs)
	}
}

// BenchmarkTemplateIndexBuild compares the two ways to build the index at
// start: from the generated Templates (what the module does), or by parsing
// the reference JSON file (which would also put its 109 KB, titles and all,
// in every build).
func BenchmarkTemplateIndexBuild(b *testing.B) {
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewTemplateIndex(Templates); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference-json", func(b *testing.B) {
		raw, err := os.ReadFile("../reference/wechatpay-endpoints.json") // embedded, the reference package holds it in memory
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var list []reference.Endpoint
			if err := json.Unmarshal(raw, &list); err != nil {
				b.Fatal(err)
			}
			ts := make([]Template, len(list))
			for i, e := range list {
				ts[i] = Template{Method: e.Method, Path: e.Path}
			}
			if _, err := NewTemplateIndex(ts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTemplateMatch(b *testing.B) {
	x := EndpointIndex()
	b.ReportAllocs()
	for b.Loop() {
		x.Match("GET", "/v3/pay/transactions/out-trade-no/1217752501201407033233368018")
	}
}

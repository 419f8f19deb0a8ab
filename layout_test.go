package wechatpay

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/clicmd"
)

// goList runs `go list` with args and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Fields(string(out))
}

// TestProtocolPackagesImportNoCaddy: the WeChat Pay protocol lives in
// internal/ packages that depend on neither Caddy nor zap, so that the
// compiler, not habit, keeps the protocol apart from the Caddy modules.
func TestProtocolPackagesImportNoCaddy(t *testing.T) {
	for _, line := range goList(t, "-deps", "-f", "{{.ImportPath}}", "./internal/...") {
		if strings.HasPrefix(line, "github.com/caddyserver/") || strings.HasPrefix(line, "go.uber.org/zap") {
			t.Errorf("a package under internal/ depends on %s", line)
		}
	}
}

// TestRootIsCaddyFacing: the root package is what Caddy sees (the modules'
// config, Caddyfile, lifecycle and ServeHTTP glue, admin routes, CLI,
// metrics); logic that needs neither Caddy, zap nor Prometheus lives in
// internal/. Besides doc.go and errors.go, only the design card's handler
// steps (encrypt.go, sign.go) may import none of them: at most four files.
func TestRootIsCaddyFacing(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var free []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		caddyFacing := false
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/caddyserver/") || strings.HasPrefix(path, "go.uber.org/zap") ||
				strings.HasPrefix(path, "github.com/prometheus/") {
				caddyFacing = true
			}
		}
		if !caddyFacing {
			free = append(free, name)
		}
	}
	if len(free) > 4 {
		t.Errorf("%d root files import neither Caddy, zap nor Prometheus, want at most 4 (move their logic to internal/): %s",
			len(free), strings.Join(free, " "))
	}
}

// TestProductionBuildCarriesNoDevelopmentTools: a Caddy built with the
// module alone (xcaddy build --with the module) holds no WeChat Pay
// simulator, demo, key generator, test fixtures or official SDK.
func TestProductionBuildCarriesNoDevelopmentTools(t *testing.T) {
	const module = "github.com/caddy-wechatpay/caddy-wechatpay"
	for _, dep := range goList(t, "-deps", "-f", "{{.ImportPath}}", ".") {
		for _, banned := range []string{module + "/sandbox", module + "/demo", module + "/devtools", module + "/bench",
			module + "/internal/testkit", "github.com/wechatpay-apiv3/wechatpay-go"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the module depends on %s", dep)
			}
		}
	}
	var names []string
	for _, c := range clicmd.Commands() {
		names = append(names, c.Name())
	}
	if got := strings.Join(names, " "); got != "certificates check keys" {
		t.Errorf("caddy wechatpay without the developer tools has %q, want the module's own commands", got)
	}
}

// TestSandboxIsIndependent: the simulator, which the tests use as WeChat
// Pay, shares no code with the module but the reference data (the
// documented endpoints and their sensitive fields): its signatures,
// encryption and verification are written apart, so that a mistake in the
// module's crypto cannot be mirrored by the stand-in that judges it.
func TestSandboxIsIndependent(t *testing.T) {
	const module = "github.com/caddy-wechatpay/caddy-wechatpay"
	for _, dep := range goList(t, "-deps", "-f", "{{.ImportPath}}", "./sandbox") {
		if strings.HasPrefix(dep, module) && dep != module+"/sandbox" && dep != module+"/internal/reference" {
			t.Errorf("the sandbox depends on %s", dep)
		}
	}
}

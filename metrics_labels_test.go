package wechatpay

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOutcomeCodesAreEveryCode: every code a client or WeChat Pay can be
// answered with is an outcome label of its own, so that a new code (a
// constant in errors.go, the verifier or the callback parser, or a literal
// in an apiError or notifyRefusal) cannot fall into "other" unnoticed.
func TestOutcomeCodesAreEveryCode(t *testing.T) {
	fset := token.NewFileSet()
	found := map[string]string{} // code -> where
	verify := map[string]bool{}  // the verifier's codes
	constants := func(dir, prefix string) {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for i, name := range n.Names {
						if strings.HasPrefix(name.Name, prefix) && i < len(n.Values) {
							if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								v, _ := strconv.Unquote(lit.Value)
								found[v] = fset.Position(lit.Pos()).String()
								if dir == "internal/apiv3" {
									verify[v] = true
								}
							}
						}
					}
				case *ast.CompositeLit:
					// apiError{..., code: "X"} and notifyRefusal{status, "X", reason}.
					id, ok := n.Type.(*ast.Ident)
					if !ok || (id.Name != "apiError" && id.Name != "notifyRefusal") {
						return true
					}
					for i, e := range n.Elts {
						v := e
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "code" {
								continue
							}
							v = kv.Value
						} else if i != 1 {
							continue
						}
						if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							found[s] = fset.Position(lit.Pos()).String()
						}
					}
				}
				return true
			})
		}
	}
	constants(".", "code")
	constants("internal/apiv3", "Code")
	constants("internal/notification", "Code")
	for _, want := range []string{"PARAM_ERROR", "SIGNATURE_INVALID", "RESOURCE_DECRYPT_FAILED", "CLIENT_CLOSED_REQUEST", "METHOD_NOT_ALLOWED"} {
		if found[want] == "" {
			t.Fatalf("the scan missed %s: it is broken", want)
		}
	}
	for code, where := range found {
		if code == notifyFail {
			continue // the code of every callback answer, not an outcome
		}
		if outcomeLabel(code) != code {
			t.Errorf("code %s (%s) is not an outcome label: add it to outcomeCodes", code, where)
		}
	}
	if len(found) < len(outcomeCodes) {
		t.Errorf("the scan found %d codes, outcomeCodes lists %d", len(found), len(outcomeCodes))
	}
	// response_verification_failures_total starts at 0 for each of the
	// verifier's codes: verifyCodes must be all of them.
	for _, code := range verifyCodes {
		if !verify[code] {
			t.Errorf("verifyCodes has %s, which the verifier does not answer", code)
		}
		delete(verify, code)
	}
	for code := range verify {
		t.Errorf("the verifier's code %s is not in verifyCodes", code)
	}
}

func TestOutcomeLabel(t *testing.T) {
	for _, o := range append([]string{outcomeVerified, outcomeUnverified, outcomeDelivered, outcomeDuplicate, outcomeAppFailed}, outcomeCodes...) {
		if got := outcomeLabel(o); got != o {
			t.Errorf("%s labelled %s", o, got)
		}
	}
	for _, o := range []string{"", "FAIL", "verified, decrypted", "SIGN_ERROR", "/v3/pay", "param_error"} {
		if got := outcomeLabel(o); got != labelOther {
			t.Errorf("%q labelled %q, want other", o, got)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE",
		"HEAD": "HEAD", "OPTIONS": "OTHER", "get": "OTHER", "BREW": "OTHER", "": "OTHER", "CONNECT": "OTHER"} {
		if got := methodLabel(m); got != want {
			t.Errorf("%q labelled %q, want %q", m, got, want)
		}
	}
}

func TestEventTypeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"TRANSACTION.SUCCESS": "TRANSACTION.SUCCESS", "REFUND.ABNORMAL": "REFUND.ABNORMAL", "": "",
		"MCHTRANSFER.BILL.FINISHED": "MCHTRANSFER.BILL.FINISHED", "transaction.success": "other",
		"TRANSACTION SUCCESS": "other", "支付成功": "other", strings.Repeat("A", 65): "other", strings.Repeat("A", 64): strings.Repeat("A", 64),
	} {
		if got := eventTypeLabel(in); got != want {
			t.Errorf("%q labelled %q, want %q", in, got, want)
		}
	}
}

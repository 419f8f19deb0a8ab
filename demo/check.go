package demo

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
	"github.com/tidwall/gjson"
)

// leaks returns the sensitive fields whose plaintext appears anywhere in
// what reached the simulator: request target, headers or body, raw or as a
// JSON \u escape.
func leaks(x sandbox.Exchange, fields []sensitiveField) []string {
	var all bytes.Buffer
	all.WriteString(x.RequestURI + "\n")
	_ = x.Header.Write(&all)
	all.Write(x.Body)
	var out []string
	for _, f := range fields {
		forms := []string{f.plain}
		if esc := strings.Trim(strconv.QuoteToASCII(f.plain), `"`); esc != f.plain {
			forms = append(forms, esc)
		}
		for _, form := range forms {
			if bytes.Contains(all.Bytes(), []byte(form)) {
				out = append(out, f.path)
				break
			}
		}
	}
	return out
}

// checkDecrypted compares what the simulator decrypted with what the app
// sent; it returns one problem per field that differs or is missing.
func checkDecrypted(x sandbox.Exchange, fields []sensitiveField) []string {
	var problems []string
	for _, f := range fields {
		got, ok := x.Field(f.path)
		switch {
		case !ok:
			problems = append(problems, f.path+" was not decrypted by the simulator")
		case got != f.plain:
			problems = append(problems, fmt.Sprintf("%s decrypted to %q, the app sent %q", f.path, got, f.plain))
		}
	}
	return problems
}

// answerString returns the string field of a 200 answer, or "".
func answerString(a *appAnswer, field string) string {
	if a == nil || a.status != http.StatusOK {
		return ""
	}
	if v := gjson.GetBytes(a.body, field); v.Type == gjson.String {
		return v.Str
	}
	return ""
}

// uploadProblems compares what the simulator received for the upload with
// what the app sent, and lists the checks of uploadChecks it did not make
// or that failed.
func uploadProblems(u *imageUpload, x sandbox.Exchange) []string {
	var problems []string
	if x.Method != http.MethodPost || x.RequestURI != sandbox.MediaUploadPath {
		problems = append(problems, fmt.Sprintf("the simulator received %s %s for the upload, the app sent POST %s",
			x.Method, x.RequestURI, sandbox.MediaUploadPath))
	}
	if got := x.Header.Get("Content-Type"); got != u.contentType {
		problems = append(problems, fmt.Sprintf("the simulator received the upload with Content-Type %q, the app sent %q", got, u.contentType))
	}
	if !bytes.Equal(x.Body, u.body) {
		problems = append(problems, fmt.Sprintf("the upload body the simulator received (%d bytes) is not the one the app sent (%d bytes)",
			len(x.Body), len(u.body)))
	}
	if s, failed := x.Failed(); failed {
		problems = append(problems, fmt.Sprintf("the simulator's check %q of the upload failed: %s", s.Name, s.Detail))
		return problems // the checks after it were not made
	}
	for _, name := range uploadChecks {
		if !slices.ContainsFunc(x.Steps, func(s sandbox.Step) bool { return s.Name == name }) {
			problems = append(problems, fmt.Sprintf("the simulator did not check the upload's %s", name))
		}
	}
	return problems
}

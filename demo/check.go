package demo

import (
	"bytes"
	"fmt"
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

// presignToken returns the presign_token of a 200 answer, or "".
func presignToken(a *appAnswer) string {
	if a == nil || a.status != 200 {
		return ""
	}
	return gjson.GetBytes(a.body, "presign_token").String()
}

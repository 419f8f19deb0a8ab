package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// printer writes the demo's numbered, indented report.
type printer struct{ w io.Writer }

func (p printer) heading(n int, title string) { fmt.Fprintf(p.w, "\n%d. %s\n", n, title) }

// line writes one indented line.
func (p printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, "   "+format+"\n", args...)
}

// block writes a multi-line text indented.
func (p printer) block(text string) {
	for l := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(p.w, "     %s\n", l)
	}
}

// short truncates values longer than 64 characters, such as ciphertexts
// and signatures: the first 24 characters, then the full length.
func short(s string) string { return shorten(s, 64) }

// shorten truncates s when it is longer than limit characters.
func shorten(s string, limit int) string {
	n := utf8.RuneCountInString(s)
	if n <= limit {
		return s
	}
	return string([]rune(s)[:24]) + "…(" + strconv.Itoa(n) + " chars)"
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// prettyJSON renders JSON indented, shortening every string longer than
// limit characters; invalid JSON is shown shortened as it is.
func prettyJSON(raw []byte, limit int) string {
	if !gjson.ValidBytes(raw) {
		return shorten(string(raw), limit)
	}
	var b strings.Builder
	writeJSON(&b, gjson.ParseBytes(raw), "", limit)
	return b.String()
}

func writeJSON(b *strings.Builder, v gjson.Result, indent string, limit int) {
	switch {
	case v.IsObject() || v.IsArray():
		open, close := "{", "}"
		if v.IsArray() {
			open, close = "[", "]"
		}
		b.WriteString(open)
		first := true
		v.ForEach(func(key, val gjson.Result) bool {
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString("\n" + indent + "  ")
			if v.IsObject() {
				b.WriteString(quote(key.String()) + ": ")
			}
			writeJSON(b, val, indent+"  ", limit)
			return true
		})
		if !first {
			b.WriteString("\n" + indent)
		}
		b.WriteString(close)
	case v.Type == gjson.String:
		b.WriteString(quote(shorten(v.Str, limit)))
	default:
		b.WriteString(v.Raw)
	}
}

// quote renders s as a JSON string, leaving non-ASCII text readable.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// authParams splits an Authorization header into its scheme and key="value"
// parameters.
func authParams(h string) (scheme string, params map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params = map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			params[strings.TrimSpace(k)] = strings.Trim(v, `"`)
		}
	}
	return scheme, params
}

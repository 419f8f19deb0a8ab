// Package docs_test checks the documentation: the English and Chinese
// READMEs carry the same commands and Caddyfiles, and so does each
// Chinese page of docs/zh-CN/ and its English page; every relative link
// and anchor resolves, every page is listed, and the README's test
// command is the one CI runs.
package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

const (
	readme   = "../README.md"
	readmeZH = "../README.zh-CN.md"
	ciScript = "../.ci/run"
	index    = "README.md" // docs/README.md
)

// block is one fenced code block of a Markdown file.
type block struct {
	info string // the info string, e.g. "sh"
	body string // the lines between the fences, each ending in "\n"
	line int    // the line of the opening fence, from 1
}

// doc is a Markdown file split into its code blocks and the rest.
type doc struct {
	name   string
	blocks []block
	prose  string // the text outside code blocks, fences removed
}

func readDoc(t *testing.T, name string) doc {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return parseDoc(t, name, string(raw))
}

// parseDoc splits text at its fences: a line that starts (after up to
// any indentation, as inside a list item) with three backticks opens a
// block, and the next line of only backticks, as many or more, closes it.
func parseDoc(t *testing.T, name, text string) doc {
	t.Helper()
	d := doc{name: name}
	var prose strings.Builder
	var open *block
	var indent, fence string
	for i, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if open == nil {
			if strings.HasPrefix(trimmed, "```") {
				n := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
				open = &block{info: strings.TrimSpace(trimmed[n:]), line: i + 1}
				indent, fence = line[:len(line)-len(trimmed)], trimmed[:n]
				continue
			}
			prose.WriteString(line)
			continue
		}
		if s := strings.TrimSpace(trimmed); strings.HasPrefix(s, fence) && strings.Trim(s, "`") == "" {
			d.blocks = append(d.blocks, *open)
			open = nil
			prose.WriteString("\n") // keeps line counts and separates paragraphs
			continue
		}
		open.body += strings.TrimPrefix(line, indent)
	}
	if open != nil {
		t.Errorf("%s:%d: code block never closed", name, open.line)
	}
	d.prose = prose.String()
	return d
}

// shared returns the blocks the two READMEs must share: shell commands
// and Caddyfiles.
func (d doc) shared() []block {
	var out []block
	for _, b := range d.blocks {
		if b.info == "sh" || strings.EqualFold(b.info, "caddyfile") {
			out = append(out, b)
		}
	}
	return out
}

// TestReadmesShareCodeBlocks: README.md and README.zh-CN.md carry the
// same shell and Caddyfile blocks, byte for byte, in any order, so that
// a command or an example changed in one cannot drift from the other.
func TestReadmesShareCodeBlocks(t *testing.T) {
	en, zh := readDoc(t, readme), readDoc(t, readmeZH)
	enBlocks, zhBlocks := en.shared(), zh.shared()
	kinds := map[string]bool{}
	for _, b := range enBlocks {
		kinds[strings.ToLower(b.info)] = true
	}
	if !kinds["sh"] || !kinds["caddyfile"] {
		t.Fatalf("%s has no sh or no Caddyfile block: the test compares nothing", readme)
	}
	missingBlocks(t, en, zh, enBlocks, zhBlocks, "")
	missingBlocks(t, zh, en, zhBlocks, enBlocks, "")
}

// TestReadmeTestCommandIsCIs: the command the README gives to run the
// tests is, as a block of its own, the one .ci/run runs.
func TestReadmeTestCommandIsCIs(t *testing.T) {
	raw, err := os.ReadFile(ciScript)
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") && strings.Contains(line, "go test") {
			commands = append(commands, line)
		}
	}
	if len(commands) != 1 {
		t.Fatalf("%s: want one line that runs go test, found %q", ciScript, commands)
	}
	for _, b := range readDoc(t, readme).blocks {
		if b.info == "sh" && b.body == commands[0]+"\n" {
			return
		}
	}
	t.Errorf("%s has no ```sh block holding exactly %q, the command %s runs", readme, commands[0], ciScript)
}

var (
	// inlineCode is a code span; links inside one are not links.
	inlineCode = regexp.MustCompile("`[^`]*`")
	// link is an inline link or image, [text](target) with an optional
	// title; the text may span lines.
	link = regexp.MustCompile(`\[[^\]]*\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
	// scheme starts an absolute URL (https:, mailto:).
	scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	// heading is an ATX heading line.
	heading = regexp.MustCompile(`^#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$`)
	// headingLink is a link inside a heading: its text counts.
	headingLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// anchors returns the anchors GitHub gives the headings of d: the
// heading's text, lower-cased, with spaces turned into '-' and every
// character other than letters, digits, '-' and '_' dropped; a repeated
// anchor gets -1, -2, ...
func anchors(d doc) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, line := range strings.Split(d.prose, "\n") {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		text := headingLink.ReplaceAllString(m[1], "$1")
		text = strings.NewReplacer("`", "", "*", "").Replace(text)
		var slug strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
				slug.WriteRune(r)
			}
		}
		a := slug.String()
		if n := seen[a]; n > 0 {
			seen[a] = n + 1
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		out[a] = true
	}
	return out
}

// documents returns the READMEs, every page under docs/ and every
// translation under docs/zh-CN/.
func documents(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return slices.Concat([]string{readme, readmeZH}, pages, translatedPages(t))
}

// TestLinksResolve: every relative link of the READMEs, docs/*.md and
// docs/zh-CN/*.md names a file that exists, and every #anchor (in the
// page, or in another .md file) names one of that file's headings.
func TestLinksResolve(t *testing.T) {
	docs := map[string]doc{}
	load := func(name string) doc {
		name = filepath.Clean(name)
		if d, ok := docs[name]; ok {
			return d
		}
		d := readDoc(t, name)
		docs[name] = d
		return d
	}
	checked := 0
	for _, name := range documents(t) {
		d := load(name)
		prose := inlineCode.ReplaceAllString(d.prose, "")
		for _, m := range link.FindAllStringSubmatch(prose, -1) {
			target := m[1]
			if scheme.MatchString(target) {
				continue
			}
			checked++
			file, anchor, _ := strings.Cut(target, "#")
			path := name
			if file != "" {
				path = filepath.Join(filepath.Dir(name), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %q: %v", name, target, err)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", name, target)
				continue
			}
			if !anchors(load(path))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", name, target, path, anchor)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the test checks nothing")
	}
}

// TestEveryPageIsListed: each page under docs/ is linked from README.md
// and from the index, docs/README.md, so that a new page is found.
func TestEveryPageIsListed(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	abs := func(path string) string { return absPath(t, path) }
	targets := func(name string) map[string]bool { return linkedFiles(t, name) }
	fromReadme, fromIndex := targets(readme), targets(index)
	for _, page := range pages {
		if page == index {
			continue
		}
		if !fromReadme[abs(page)] {
			t.Errorf("%s does not link docs/%s", readme, page)
		}
		if !fromIndex[abs(page)] {
			t.Errorf("docs/%s does not link %s", index, page)
		}
	}
}

// TestAnchors pins the anchor rules on headings of the kinds the pages
// use.
func TestAnchors(t *testing.T) {
	d := parseDoc(t, "test", strings.Join([]string{
		"# Callbacks (notifications)",
		"## Raising `max_body` on the upload paths",
		"## `502 SIGNATURE_INVALID` / `SERIAL_UNKNOWN`",
		`## ` + "`400 PARAM_ERROR`" + `, "request body could not be read"`,
		"## 快速开始",
		"## `caddy wechatpay demo`（或 `sandbox`、`keygen`）是未知命令",
		"## Options",
		"## Options",
		"```sh",
		"# not a heading",
		"```",
	}, "\n"))
	got := anchors(d)
	for _, want := range []string{"callbacks-notifications", "raising-max_body-on-the-upload-paths",
		"502-signature_invalid--serial_unknown", "400-param_error-request-body-could-not-be-read",
		"快速开始", "caddy-wechatpay-demo或-sandboxkeygen是未知命令", "options", "options-1"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] || len(got) != 8 {
		t.Errorf("anchors %v", got)
	}
}

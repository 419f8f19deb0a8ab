package docs_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// translations is the directory of the Chinese pages: each is the
// translation of the page of the same name in docs/.
const translations = "zh-CN"

// translatedPages returns the pages under docs/zh-CN/.
func translatedPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(translations, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// missingBlocks reports each block of from that in lacks byte for byte
// (in any order; a block repeated in from must be repeated in in), with
// the line of from it starts at and a hint of what to do.
func missingBlocks(t *testing.T, from, in doc, fromBlocks, inBlocks []block, hint string) {
	t.Helper()
	left := slices.Clone(inBlocks)
	for _, b := range fromBlocks {
		i := slices.IndexFunc(left, func(c block) bool { return c.info == b.info && c.body == b.body })
		if i < 0 {
			t.Errorf("the ```%s block of %s:%d is not in %s byte for byte%s:\n%s", b.info, from.name, b.line, in.name, hint, b.body)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
}

// TestTranslationsShareCodeBlocks: each page of docs/zh-CN/ translates a
// page of docs/ and carries its shell and Caddyfile blocks byte for
// byte, as README.zh-CN.md does README.md's. When the English page
// changes a command or a Caddyfile, this names the page, the line of the
// block and the block, in both directions: what the translation lacks
// and what it still has that the English page dropped. Every other block
// (JSON, program output) must be the same too, since the program's
// output and WeChat Pay's bodies are not translated.
func TestTranslationsShareCodeBlocks(t *testing.T) {
	pages := translatedPages(t)
	if len(pages) == 0 {
		t.Fatalf("no page under docs/%s: the test compares nothing", translations)
	}
	shared := 0
	for _, zhName := range pages {
		enName := filepath.Base(zhName)
		if _, err := os.Stat(enName); err != nil {
			t.Errorf("%s translates no page: docs/%s: %v", zhName, enName, err)
			continue
		}
		en, zh := readDoc(t, enName), readDoc(t, zhName)
		shared += len(en.shared())
		missingBlocks(t, en, zh, en.blocks, zh.blocks, " (update the translation)")
		missingBlocks(t, zh, en, zh.blocks, en.blocks, " (the English page changed or dropped it)")
	}
	if shared == 0 {
		t.Fatal("no translated page has a sh or Caddyfile block: the test compares no command")
	}
}

// absPath is path made absolute.
func absPath(t *testing.T, path string) string {
	t.Helper()
	a, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// linkedFiles returns the files the Markdown file name links to, as
// absolute paths.
func linkedFiles(t *testing.T, name string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	prose := inlineCode.ReplaceAllString(readDoc(t, name).prose, "")
	for _, m := range link.FindAllStringSubmatch(prose, -1) {
		if file, _, _ := strings.Cut(m[1], "#"); file != "" && !scheme.MatchString(file) {
			out[absPath(t, filepath.Join(filepath.Dir(name), file))] = true
		}
	}
	return out
}

// TestTranslationsAreListed: each page under docs/zh-CN/ is linked from
// README.zh-CN.md, from the index, docs/README.md, and from the Chinese
// index, docs/zh-CN/README.md; it links its English page (for readers
// who want the original); and apart from that link it links the Chinese
// version of a page that has one, not the English.
func TestTranslationsAreListed(t *testing.T) {
	abs := func(path string) string { return absPath(t, path) }
	targets := func(name string) map[string]bool { return linkedFiles(t, name) }
	pages := translatedPages(t)
	translated := map[string]bool{}
	for _, page := range pages {
		translated[abs(filepath.Base(page))] = true
	}
	zhIndex := filepath.Join(translations, index)
	fromReadme, fromIndex, fromZHIndex := targets(readmeZH), targets(index), targets(zhIndex)
	for _, page := range pages {
		if !fromReadme[abs(page)] {
			t.Errorf("%s does not link docs/%s", readmeZH, page)
		}
		if !fromIndex[abs(page)] {
			t.Errorf("docs/%s does not link %s", index, page)
		}
		if page != zhIndex && !fromZHIndex[abs(page)] {
			t.Errorf("docs/%s does not link %s", zhIndex, page)
		}
		own := abs(filepath.Base(page))
		links := targets(page)
		if !links[own] {
			t.Errorf("docs/%s does not link its English page, %s", page, filepath.Base(page))
		}
		for target := range links {
			if target != own && translated[target] {
				t.Errorf("docs/%s links the English %s: link ./%s, its translation", page, filepath.Base(target), filepath.Base(target))
			}
		}
	}
}

// source is the line under a translation's first that names the English
// page and the git blob it was translated from.
var source = regexp.MustCompile(`(?m)^<!-- translated from docs/(\S+) at git blob ([0-9a-f]{40}) -->$`)

// gitBlob is the object name git gives a file of that content.
func gitBlob(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// TestTranslationsAreCurrent: each translated page (the Chinese index
// aside, which lists pages rather than translating one) names the git
// blob of the English page it was translated from, and that blob is the
// English page as it is now. When the English page changes, this fails
// with the command that shows what to translate; once the translation
// follows, its source line takes the new blob (git rev-parse
// HEAD:docs/<page>, or git hash-object docs/<page>). The Chinese index
// links every page of docs/, translated or not.
func TestTranslationsAreCurrent(t *testing.T) {
	for _, zhName := range translatedPages(t) {
		enName := filepath.Base(zhName)
		if enName == index {
			continue
		}
		raw, err := os.ReadFile(zhName)
		if err != nil {
			t.Fatal(err)
		}
		m := source.FindSubmatch(raw)
		if m == nil || string(m[1]) != enName {
			t.Errorf("docs/%s has no line %q under its first", zhName, "<!-- translated from docs/"+enName+" at git blob <git rev-parse HEAD:docs/"+enName+"> -->")
			continue
		}
		en, err := os.ReadFile(enName)
		if err != nil {
			t.Errorf("docs/%s translates docs/%s: %v", zhName, enName, err)
			continue
		}
		if was, now := string(m[2]), gitBlob(en); was != now {
			t.Errorf("docs/%s changed since docs/%s was translated from it (blob %.12s, now %.12s): `git show %.12s | diff - docs/%s` shows what to translate; then write %s in its source line", enName, zhName, was, now, was, enName, now)
		}
	}
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	zhIndex := filepath.Join(translations, index)
	linked := linkedFiles(t, zhIndex)
	for _, page := range pages {
		if page == index {
			continue
		}
		zh := filepath.Join(translations, page)
		if !linked[absPath(t, page)] && !linked[absPath(t, zh)] {
			t.Errorf("docs/%s links neither docs/%s nor a translation of it", zhIndex, page)
		}
	}
}

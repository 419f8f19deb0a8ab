package docs_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// caddyfileBlocks returns the ```caddyfile blocks of a Markdown text, each
// with the line it starts on.
func caddyfileBlocks(text string) (blocks []string, lines []int) {
	const fence = "```caddyfile\n"
	line := 1
	for {
		i := strings.Index(text, fence)
		if i < 0 {
			return blocks, lines
		}
		line += strings.Count(text[:i+len(fence)], "\n")
		text = text[i+len(fence):]
		end := strings.Index(text, "```")
		if end < 0 {
			return blocks, lines
		}
		blocks = append(blocks, text[:end])
		lines = append(lines, line)
		line += strings.Count(text[:end], "\n")
		text = text[end:]
	}
}

// TestCaddyfilesAreFormatted: every Caddyfile in the READMEs and in docs/
// (and Caddyfile.example) is as `caddy fmt` writes it, so that a user who
// copies one gets no "not formatted" warning from caddy run or validate.
func TestCaddyfilesAreFormatted(t *testing.T) {
	files := []string{"../README.md", "../README.zh-CN.md"}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		blocks, lines := caddyfileBlocks(string(raw))
		for i, b := range blocks {
			checked++
			if got := caddyfile.Format([]byte(b)); !bytes.Equal(got, []byte(b)) {
				t.Errorf("%s:%d: the Caddyfile is not as caddy fmt writes it; caddy fmt gives:\n%s", name, lines[i], got)
			}
		}
	}
	example, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	if got := caddyfile.Format(example); !bytes.Equal(got, example) {
		t.Errorf("Caddyfile.example is not as caddy fmt writes it:\n%s", got)
	}
	if checked < 10 {
		t.Errorf("only %d Caddyfiles found: is the fence still ```caddyfile?", checked)
	}
}

package testkit

import (
	"os"
	"strings"
	"testing"
)

// DocsCaddyfile returns the first Caddyfile example after the heading
// line heading (e.g. "## Storage") of the Markdown file name.
func DocsCaddyfile(t testing.TB, name, heading string) string {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s := "\n" + string(raw) // a heading on the first line
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", name, heading)
	}
	s = s[i:]
	const fence = "```caddyfile\n"
	start := strings.Index(s, fence)
	if start < 0 {
		t.Fatalf("%s has no Caddyfile example after %q", name, heading)
	}
	s = s[start+len(fence):]
	end := strings.Index(s, "```")
	if end < 0 {
		t.Fatalf("%s: the Caddyfile example after %q has no closing fence", name, heading)
	}
	return s[:end]
}

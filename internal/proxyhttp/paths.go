package proxyhttp

import (
	"net/http"
	"net/url"
	"strings"
)

// APIPrefix is the path every WeChat Pay APIv3 call starts with.
const APIPrefix = "/v3/"

// CheckAPIPath refuses a path that is not a plain WeChat Pay APIv3 path, so
// that the merchant's signature is put only on API calls and no path trick
// (dot segments, doubled or trailing slashes, encoded separators) can make
// WeChat Pay see another path than the one the proxy matched its rules on.
func CheckAPIPath(u *url.URL, allowed []string) *Refusal {
	p := u.Path
	bad := func(why string) *Refusal {
		return &Refusal{Status: http.StatusNotFound, Code: CodeNotFound, Message: "path is not a WeChat Pay APIv3 path the proxy forwards: " + why}
	}
	if !strings.HasPrefix(p, APIPrefix) && !HasPathPrefix(p, allowed) {
		return bad("it must start with " + APIPrefix + " (or an allow_paths prefix)")
	}
	for rest := p[1:]; ; {
		seg, tail, more := strings.Cut(rest, "/")
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad("dot segment")
		}
		if !more {
			break
		}
		rest = tail
	}
	// A server may cut a path at ';' (path parameters) or trim white
	// space, and so see a route the proxy did not match its rules on.
	if strings.ContainsAny(p, "\\; ?#") || hasControl(p) || !isASCII(p) {
		// Non-ASCII could fold into an ASCII route name on a lenient
		// server (ſ is s); '?' and '#' can only come from %3F and %23.
		return bad("invalid character")
	}
	if raw := strings.ToLower(u.RawPath); strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") {
		return bad("encoded path separator")
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// HasPathPrefix reports whether path is one of prefixes or lies below one,
// matching whole segments.
func HasPathPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p) && (strings.HasSuffix(p, "/") || path[len(p)] == '/') {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

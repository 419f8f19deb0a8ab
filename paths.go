package wechatpay

import (
	"net/url"
	"strings"
)

// apiPrefix is the path every WeChat Pay APIv3 call starts with.
const apiPrefix = "/v3/"

// checkAPIPath refuses a path that is not a plain WeChat Pay APIv3 path, so
// that the merchant's signature is put only on API calls and no path trick
// (dot segments, doubled or trailing slashes, encoded separators) can make
// WeChat Pay see another path than the one the proxy matched its rules on.
func checkAPIPath(u *url.URL, allowed []string) *apiError {
	p := u.Path
	bad := func(why string) *apiError {
		return &apiError{status: 404, code: codeNotFound, message: "path is not a WeChat Pay APIv3 path the proxy forwards: " + why}
	}
	if !strings.HasPrefix(p, apiPrefix) && !hasPathPrefix(p, allowed) {
		return bad("it must start with " + apiPrefix + " (or an allow_paths prefix)")
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

// hasPathPrefix reports whether path is one of prefixes or lies below one,
// matching whole segments.
func hasPathPrefix(path string, prefixes []string) bool {
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

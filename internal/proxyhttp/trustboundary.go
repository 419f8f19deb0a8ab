package proxyhttp

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/logtext"
)

// The proxy signs with the merchant key whatever reaches it, so a web page
// open in a browser on a host that may reach it must not: a page can send
// a POST in text/plain without asking (no CORS preflight), and a page whose
// name is made to resolve to 127.0.0.1 (DNS rebinding) can read the
// answers too. Apps call the proxy from their server, and no app sends the
// headers a browser marks its requests with; the Host of a rebound page is
// its own name. These checks come first on every route of the handler, as
// Caddy's admin endpoint makes its origin and host checks first. They are
// not options: no browser should hold the merchant's power.

// browserHeaders are the request headers browsers send and apps do not:
// Origin on every cross-origin request and every same-origin one but GET
// and HEAD, Sec-Fetch-Site with the fetch metadata sent to a potentially
// trustworthy origin (127.0.0.1, localhost, HTTPS). Sec-Fetch-Mode alone is
// no sign of a browser: Node's built-in fetch sends it on every request.
var browserHeaders = [...]string{"Origin", "Sec-Fetch-Site"}

// CheckBrowser refuses a request carrying any of browserHeaders, whatever
// its value (null and empty too). The header is named, never its value.
func CheckBrowser(r *http.Request) *Refusal {
	for _, name := range browserHeaders {
		if _, ok := r.Header[name]; ok {
			return &Refusal{Status: http.StatusForbidden, Code: CodeBrowserRequestRefused, Field: name,
				Message: "the request carries " + name + ", which only web browsers send: apps call the WeChat Pay proxy from their server, never from a web page"}
		}
	}
	return nil
}

// HostRules are the names allowed in Host besides IP literals and
// localhost: allow_hosts, lower-cased, without a trailing dot.
type HostRules struct {
	exact    []string
	suffixes []string // ".example.internal" for "*.example.internal"
}

// CompileAllowHosts checks allow_hosts and returns its rules. A wildcard
// is a whole first label ("*.svc.cluster.local") over at least two more
// labels, so that "*" or "*.com" cannot let an attacker's name through.
func CompileAllowHosts(names []string) (HostRules, error) {
	var rules HostRules
	for _, raw := range names {
		name := strings.TrimSuffix(strings.ToLower(raw), ".")
		bad := func(why string) error {
			return errors.New("allow_hosts: " + strconv.Quote(raw) + " " + why)
		}
		rest, wildcard := strings.CutPrefix(name, "*.")
		switch {
		case name == "":
			return rules, bad("is empty")
		case name == "*":
			return rules, bad("is too wide a wildcard: it would let any name through, a rebound page's too")
		case strings.ContainsAny(name, ":/[]@ "):
			return rules, bad("must be a host name alone, without scheme or port (the port is ignored)")
		case strings.Contains(rest, "*"):
			return rules, bad("may have a wildcard only as its whole first label, as in *.svc.cluster.local")
		case wildcard && strings.Count(rest, ".") < 1:
			return rules, bad("is too wide a wildcard: it needs at least two labels after *., as in *.svc.cluster.local")
		case strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, ".") || strings.Contains(rest, ".."):
			return rules, bad("has an empty label")
		}
		if wildcard {
			rules.suffixes = append(rules.suffixes, "."+rest)
		} else {
			rules.exact = append(rules.exact, name)
		}
	}
	return rules, nil
}

// CheckHost refuses a plain-HTTP request whose Host is not an IP literal,
// localhost or an allow_hosts name: a page after DNS rebinding sends its
// own name. Over TLS the certificate binds the name, and a Unix socket is
// out of any page's reach (Caddy's admin endpoint checks no host there
// either), so neither is checked.
func (rules *HostRules) CheckHost(r *http.Request) *Refusal {
	if r.TLS != nil || overUnixSocket(r) || rules.allows(r.Host) {
		return nil
	}
	shown := "no Host"
	if r.Host != "" {
		shown = "Host " + strconv.Quote(logtext.Truncate(r.Host, 64))
	}
	return &Refusal{Status: http.StatusForbidden, Code: CodeHostNotAllowed, Field: "Host",
		Message: shown + " is not an IP address, localhost or a name in allow_hosts: a web page reaching the proxy by DNS rebinding would send its own name; list the names apps use in allow_hosts"}
}

// allows reports whether host (with or without a port) is an IP literal,
// localhost or an allow_hosts name, compared without regard to case.
func (rules *HostRules) allows(host string) bool {
	name := host
	if strings.HasPrefix(name, "[") { // [v6] or [v6]:port
		end := strings.IndexByte(name, ']')
		if end < 0 {
			return false
		}
		_, err := netip.ParseAddr(name[1:end])
		return err == nil && (end == len(name)-1 || name[end+1] == ':')
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && strings.IndexByte(name, ':') == i {
		name = name[:i] // one colon: name:port (more are an unbracketed IPv6 literal)
	}
	if name == "" {
		return false
	}
	if c := name[0]; '0' <= c && c <= '9' || c == ':' {
		if _, err := netip.ParseAddr(name); err == nil {
			return true
		}
	}
	name = strings.TrimSuffix(name, ".")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	// The lists are short: compared one by one, folding case, so that
	// nothing is allocated.
	for _, allowed := range rules.exact {
		if strings.EqualFold(name, allowed) {
			return true
		}
	}
	for _, suffix := range rules.suffixes {
		first := len(name) - len(suffix)
		if first > 0 && strings.EqualFold(name[first:], suffix) && strings.IndexByte(name[:first], '.') < 0 {
			return true
		}
	}
	return false
}

// overUnixSocket reports whether r came in over a Unix socket.
func overUnixSocket(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && addr.Network() == "unix"
}

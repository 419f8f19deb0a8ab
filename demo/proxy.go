package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

var (
	upstreamRE = regexp.MustCompile(`(?m)^(\s*reverse_proxy\s+)https://api\.mch\.weixin\.qq\.com(\s|$)`)
	siteRE     = regexp.MustCompile(`(?m)^:9180(\s*\{)`)
	bindRE     = regexp.MustCompile(`(?m)^(\s*bind\s+)127\.0\.0\.1(\s*)$`)
)

// rewriteCaddyfile points the Caddyfile's reverse_proxy at upstream and its
// :9180 site (bound to 127.0.0.1) at listen.
func rewriteCaddyfile(text, upstream, listen string) (string, error) {
	if !upstreamRE.MatchString(text) {
		return "", errors.New("the Caddyfile has no `reverse_proxy https://api.mch.weixin.qq.com` line to point at the simulator")
	}
	text = upstreamRE.ReplaceAllString(text, "${1}"+upstream+"${2}")
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if port != "9180" {
		if !siteRE.MatchString(text) {
			return "", errors.New("the Caddyfile has no `:9180 {` site address to move to port " + port)
		}
		text = siteRE.ReplaceAllString(text, ":"+port+"${1}")
	}
	if host != "127.0.0.1" && host != "localhost" {
		if !bindRE.MatchString(text) {
			return "", errors.New("the Caddyfile has no `bind 127.0.0.1` line to change to " + host)
		}
		text = bindRE.ReplaceAllString(text, "${1}"+host+"${2}")
	}
	return text, nil
}

// adaptCaddyfile turns the Caddyfile into Caddy's JSON with the admin
// endpoint off (no clash with a Caddy already on :2019), no autosave (the
// user's autosave.json stays untouched), Caddy's storage in storageDir
// (not the user's own Caddy data) and only errors logged: the demo prints
// what happens itself.
func adaptCaddyfile(text, storageDir string) ([]byte, []caddyconfig.Warning, error) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		return nil, nil, errors.New("the caddyfile adapter is not linked in")
	}
	raw, warnings, err := adapter.Adapt([]byte(text), map[string]any{"filename": "Caddyfile.example"})
	if err != nil {
		return nil, warnings, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, warnings, err
	}
	cfg["admin"] = map[string]any{"disabled": true, "config": map[string]any{"persist": false}}
	cfg["logging"] = map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}}
	cfg["storage"] = map[string]any{"module": "file_system", "root": storageDir}
	out, err := json.Marshal(cfg)
	return out, warnings, err
}

// startProxy loads the configuration into this process's Caddy and returns
// the function that stops it and waits until every listen address is closed.
func startProxy(cfgJSON []byte, listen ...string) (stop func(), err error) {
	stop = func() {
		_ = caddy.Stop()
		for _, addr := range listen {
			waitClosed(addr, 3*time.Second)
		}
	}
	for _, addr := range listen {
		if err := checkFree(addr); err != nil {
			return nil, err
		}
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// checkFree fails when a server already accepts connections on addr. Caddy
// listens with SO_REUSEPORT, so the demo's Caddy would bind the address of
// another Caddy (one running Caddyfile.example on :9180, say) beside it,
// and the demo's requests would reach that server instead.
func checkFree(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("another server is listening on %s (a Caddy running Caddyfile.example?) and the demo would talk to it: stop it, or give the demo another address with --listen (127.0.0.1:0 picks a free port)", addr)
}

// waitClosed waits until nothing accepts connections on addr: caddy.Stop
// returns once the servers' shutdowns have started, not finished.
func waitClosed(addr string, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
	}
}

// resolveListen replaces port 0 in addr with a free port.
func resolveListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", fmt.Errorf("listen address %q: bad port", addr)
		}
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port), nil
}

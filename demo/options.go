package demo

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// Default addresses and directory.
const (
	// DefaultDir is where the demo keeps its throwaway credentials.
	DefaultDir = "./wechatpay-sandbox"
	// DefaultListen is the proxy's address, as in Caddyfile.example.
	DefaultListen = "127.0.0.1:9180"
	// DefaultSandboxListen is the simulator's address: a free port.
	DefaultSandboxListen = "127.0.0.1:0"
)

// Options configures Run.
type Options struct {
	// Caddyfile is the proxy configuration to run, normally
	// Caddyfile.example: a `:9180` site with the wechatpay handler (reading
	// its credentials from {env.WECHATPAY_*}) and
	// `reverse_proxy https://api.mch.weixin.qq.com`. Required.
	Caddyfile string
	// Dir holds the throwaway credentials; they are generated there when
	// it has none. Default DefaultDir.
	Dir string
	// Listen is the proxy's loopback address; port 0 picks a free port.
	// Default DefaultListen.
	Listen string
	// SandboxListen is the simulator's loopback address; port 0 picks a
	// free port. Default DefaultSandboxListen.
	SandboxListen string
	// NotifyListen is the loopback address of the site that receives
	// WeChat Pay's callbacks (step 8); port 0 picks a free port. Default
	// DefaultNotifyListen.
	NotifyListen string
	// TamperPaySign changes the paySign of step 10's invocation before the
	// simulated WeChat client sees it, to show the client refuse it.
	TamperPaySign bool
	// TamperAPIv2Sign changes the sign of step 13's coupon plugin form
	// before the simulated WeChat client sees it, to show it refused.
	TamperAPIv2Sign bool
	// Faults make the simulator's answers misbehave, to show the proxy
	// refusing them; Run then returns an error.
	Faults sandbox.Faults
}

func (o *Options) setDefaults() {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.SandboxListen == "" {
		o.SandboxListen = DefaultSandboxListen
	}
	if o.NotifyListen == "" {
		o.NotifyListen = DefaultNotifyListen
	}
}

// faultNames maps the --fault names to the sandbox's knobs.
var faultNames = map[string]func(*sandbox.Faults){
	"wrong-key":       func(f *sandbox.Faults) { f.WrongKey = true },
	"stale-timestamp": func(f *sandbox.Faults) { f.StaleTimestamp = true },
	"unknown-serial":  func(f *sandbox.Faults) { f.UnknownSerial = true },
	"probe-signature": func(f *sandbox.Faults) { f.ProbeSignature = true },
	"omit-signature":  func(f *sandbox.Faults) { f.OmitSignature = true },
	"gzip":            func(f *sandbox.Faults) { f.Gzip = true },
	"corrupt-bill":    func(f *sandbox.Faults) { f.CorruptBill = true },
}

// FaultNames lists the names ParseFaults accepts, sorted.
func FaultNames() []string {
	names := make([]string, 0, len(faultNames))
	for n := range faultNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ParseFaults turns fault names (see FaultNames; a name may also be a
// comma-separated list) into sandbox faults.
func ParseFaults(names []string) (sandbox.Faults, error) {
	var f sandbox.Faults
	for _, arg := range names {
		for _, n := range strings.Split(arg, ",") {
			n = strings.TrimSpace(n)
			set, ok := faultNames[n]
			if !ok {
				return sandbox.Faults{}, unknownFault(n, FaultNames())
			}
			set(&f)
		}
	}
	return f, nil
}

// TamperPaySignFault is the demo's own fault: the front end of step 10
// hands the WeChat client an invocation whose paySign was changed.
const TamperPaySignFault = "tamper-paysign"

// DemoFaultNames lists the names ApplyFaults accepts: the simulator's and
// the demo's own, sorted.
func DemoFaultNames() []string {
	names := append(FaultNames(), TamperPaySignFault, TamperAPIv2SignFault)
	slices.Sort(names)
	return names
}

func unknownFault(name string, known []string) error {
	return fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(known, ", "))
}

// ApplyFaults sets the faults named (a name may also be a comma-separated
// list) in opts: TamperPaySignFault, and the simulator's (ParseFaults).
func ApplyFaults(opts *Options, names []string) error {
	var simulator []string
	for _, arg := range names {
		for _, n := range strings.Split(arg, ",") {
			switch n = strings.TrimSpace(n); {
			case n == TamperPaySignFault:
				opts.TamperPaySign = true
			case n == TamperAPIv2SignFault:
				opts.TamperAPIv2Sign = true
			case faultNames[n] == nil:
				return unknownFault(n, DemoFaultNames())
			default:
				simulator = append(simulator, n)
			}
		}
	}
	f, err := ParseFaults(simulator)
	if err != nil {
		return err
	}
	opts.Faults = f
	return nil
}

// CheckLoopback returns an error unless addr is host:port with a loopback
// host (127.0.0.0/8, ::1 or localhost). An empty host, which means every
// interface, is not loopback.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not a loopback address (127.0.0.1, ::1, localhost)", addr)
}

package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// EnvVar is one environment variable that Caddyfile.example reads.
type EnvVar struct {
	// Name is e.g. WECHATPAY_MCHID.
	Name string
	// Value is its value; key files are given as absolute paths.
	Value string
}

// CaddyfileEnv returns the WECHATPAY_* variables that point
// Caddyfile.example at a credentials set, in the order the Caddyfile lists
// them. Values are file paths and identifiers, never key material.
func CaddyfileEnv(c *sandbox.Credentials) ([]EnvVar, error) {
	abs := func(name string) (string, error) { return filepath.Abs(c.Path(name)) }
	key, err := abs(c.Files.MerchantPrivateKey)
	if err != nil {
		return nil, err
	}
	pub, err := abs(c.Files.PublicKey)
	if err != nil {
		return nil, err
	}
	return []EnvVar{
		{"WECHATPAY_MCHID", c.MchID},
		{"WECHATPAY_SERIAL_NO", c.MerchantSerial},
		{"WECHATPAY_PRIVATE_KEY", key},
		{"WECHATPAY_PUBLIC_KEY_ID", c.PublicKeyID},
		{"WECHATPAY_PUBLIC_KEY", pub},
	}, nil
}

// PrintEnv writes the variables as shell export lines, each indented by
// indent.
func PrintEnv(w io.Writer, indent string, vars []EnvVar) {
	for _, v := range vars {
		fmt.Fprintf(w, "%sexport %s=%s\n", indent, v.Name, shellQuote(v.Value))
	}
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// setEnv sets the variables and returns a function restoring the previous
// environment.
func setEnv(vars []EnvVar) (restore func(), err error) {
	type saved struct {
		name, value string
		ok          bool
	}
	var old []saved
	restore = func() {
		for _, s := range old {
			if s.ok {
				os.Setenv(s.name, s.value)
			} else {
				os.Unsetenv(s.name)
			}
		}
	}
	for _, v := range vars {
		prev, ok := os.LookupEnv(v.Name)
		old = append(old, saved{v.Name, prev, ok})
		if err := os.Setenv(v.Name, v.Value); err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}

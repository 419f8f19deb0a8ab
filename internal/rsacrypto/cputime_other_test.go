//go:build !unix

package rsacrypto

import "testing"

// reportCPU reports nothing where getrusage is missing.
func reportCPU(*testing.B) (stop func()) { return func() {} }

package testkit

import (
	"bytes"
	"testing"
)

// SplitInvocation checks that out is upstream, a prepay response, with one
// member "request_payment" added before its closing brace and every other
// byte kept, and returns the member's value.
func SplitInvocation(t testing.TB, out, upstream []byte) []byte {
	t.Helper()
	end := bytes.LastIndexByte(upstream, '}')
	if end < 0 {
		t.Fatalf("the upstream response %q is no JSON object", upstream)
	}
	prefix := append(append([]byte(nil), upstream[:end]...), `,"request_payment":`...)
	if !bytes.HasPrefix(out, prefix) || !bytes.HasSuffix(out, upstream[end:]) {
		t.Fatalf("the response is not WeChat Pay's with one member added:\n got %s\nfrom %s", out, upstream)
	}
	return out[len(prefix) : len(out)-len(upstream[end:])]
}

package testkit

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// CheckEncrypted is the independent judge of the field encryption: it locates the
// values with gjson (not the module's scanner), decrypts each with the
// official SDK, and puts the input's original literals back in place of the
// ciphertexts: the result must be the input, byte for byte.
func CheckEncrypted(t testing.TB, in, out []byte, paths []string, want map[string]string) {
	t.Helper()
	if !gjson.ValidBytes(out) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
	type span struct {
		start, end int
		orig       string
	}
	var spans []span
	got := map[string]string{}
	for _, p := range paths {
		outs, ins := Locate(t, out, p), Locate(t, in, p)
		if len(outs) != len(ins) {
			t.Fatalf("%s: %d values in output, %d in input", p, len(outs), len(ins))
		}
		for i, r := range outs {
			if r.Type != gjson.String || len(r.Str) != 344 {
				t.Fatalf("%s: output value %q is not a 2048-bit ciphertext", p, r.Raw)
			}
			plain, err := utils.DecryptOAEP(r.Str, Creds().WechatPayKey)
			if err != nil {
				t.Fatalf("%s: the SDK cannot decrypt: %v", p, err)
			}
			if plain != ins[i].Str {
				t.Fatalf("%s: decrypts to %q, want the input's %q", p, plain, ins[i].Str)
			}
			got[keyFor(p, i)] = plain
			spans = append(spans, span{r.Index, r.Index + len(r.Raw), ins[i].Raw})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var rebuilt []byte
	last := 0
	for _, s := range spans {
		rebuilt = append(rebuilt, out[last:s.start]...)
		rebuilt = append(rebuilt, s.orig...)
		last = s.end
	}
	rebuilt = append(rebuilt, out[last:]...)
	if !bytes.Equal(rebuilt, in) {
		t.Fatalf("bytes outside the encrypted values changed:\n in: %s\nout: %s", in, rebuilt)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s decrypted to %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("encrypted %d values, want %d: %v", len(got), len(want), got)
	}
}

func keyFor(p string, i int) string {
	if strings.Contains(p, "#") {
		return p + "[" + string(rune('0'+i)) + "]"
	}
	return p
}

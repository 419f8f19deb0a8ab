package sensitive

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/jsonfield"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
	"github.com/tidwall/gjson"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// fuzzPathSets are the field-path sets FuzzEncryptFields chooses among: the
// presign endpoint's sensitive fields (as on its reference page), an array of
// objects, and arrays nested in arrays.
func fuzzPathSets() [][]string {
	return [][]string{
		{"identity.real_name", "identity.credential_type", "identity.id_card_number", "bank_card.bank_card_no", "bank_card.phone"},
		{"transfer_detail_list.#.user_name"},
		{"a.#.b.#.c"},
	}
}

// FuzzEncryptFields checks EncryptFields against independent judges on any
// body: gjson and the official SDK for what was encrypted and where, and
// encoding/json for what another parser (WeChat Pay's, say) would read at a
// sensitive path. Run it with
//
//	go test -run XXX -fuzz FuzzEncryptFields -fuzztime 60s .
func FuzzEncryptFields(f *testing.F) {
	f.Add([]byte(testkit.PresignBody), uint8(0))
	f.Add([]byte(`{"identity":{"real\u005fname":"\u5f20\u4e09"},"bank_card":null}`), uint8(0))
	f.Add([]byte(`{"identity":{"real_name":"a","real\u005fname":"b"}}`), uint8(0))
	f.Add([]byte(`{"transfer_detail_list":[{"user_name":"王五"},{"amount":1},{"user_name":"\ud83d\ude00"}]}`), uint8(1))
	f.Add([]byte(`{"a":[{"b":[{"c":"x"},{"c":"y"}]},{"b":[]},{"b":null}]}`), uint8(2))

	sets := fuzzPathSets()
	compiled := make([]*jsonfield.Set, len(sets))
	for i, paths := range sets {
		compiled[i] = mustFields(f, paths...)
	}
	enc := testEncrypter(f)
	f.Fuzz(func(t *testing.T, body []byte, sel uint8) {
		i := int(sel) % len(sets)
		judgeEncryptFields(t, enc, body, sets[i], compiled[i])
	})
}

// judgeEncryptFields runs EncryptFields on body and checks every property
// that must hold whatever the body is.
func judgeEncryptFields(t *testing.T, enc *Encrypter, body []byte, paths []string, fields *jsonfield.Set) {
	t.Helper()
	in := bytes.Clone(body)
	out, n, err := enc.EncryptFields(body, fields)
	if !bytes.Equal(body, in) {
		t.Fatal("EncryptFields modified its input")
	}

	// What sits at the sensitive paths, as gjson and encoding/json read it.
	gjsonIn := map[string][]gjson.Result{}
	for _, p := range paths {
		gjsonIn[p] = gjsonLocate(in, p)
	}
	var decoded any
	stdOK := json.Unmarshal(in, &decoded) == nil
	var stdIn []stdValue
	if stdOK {
		for _, p := range paths {
			stdIn = append(stdIn, stdLocate(decoded, testkit.Segments(p))...)
		}
	}

	if err != nil {
		checkRefusal(t, err, out, n, paths, gjsonIn, stdIn)
		return
	}

	// (a) Only valid JSON is accepted, and the output is valid JSON.
	if !json.Valid(in) {
		t.Fatalf("accepted a body encoding/json finds invalid: %q", in)
	}
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON: %q", out)
	}
	if !stdOK {
		t.Fatalf("accepted a body encoding/json cannot decode into an object: %q", in)
	}

	// (b) Every string gjson finds at a sensitive path of the input is
	// replaced, at the same place, by a ciphertext of exactly that string;
	// (c) every other byte is unchanged.
	type span struct {
		start, end int
		orig       string
	}
	var spans []span
	plainOf := map[string]string{} // ciphertext -> plaintext
	total := 0
	for _, p := range paths {
		ins, outs := gjsonIn[p], gjsonLocate(out, p)
		if len(ins) != len(outs) {
			t.Fatalf("%s: gjson finds %d values in the input, %d in the output\n in: %q\nout: %q", p, len(ins), len(outs), in, out)
		}
		for k, r := range outs {
			orig := ins[k]
			if orig.Type != gjson.String {
				t.Fatalf("%s: accepted a %s at a sensitive path: %q", p, orig.Type, in)
			}
			if r.Type != gjson.String || len(r.Str) != 344 || len(r.Raw) != 346 {
				t.Fatalf("%s: output value %q is not a 2048-bit ciphertext; input %q", p, r.Raw, orig.Raw)
			}
			plain, derr := utils.DecryptOAEP(r.Str, testkit.Creds().WechatPayKey)
			if derr != nil {
				t.Fatalf("%s: the SDK cannot decrypt the output: %v", p, derr)
			}
			if plain != orig.Str {
				t.Fatalf("%s: decrypts to %q, want gjson's %q (raw %s)", p, plain, orig.Str, orig.Raw)
			}
			plainOf[r.Str] = plain
			spans = append(spans, span{r.Index, r.Index + len(r.Raw), orig.Raw})
			total++
		}
	}
	if n != total {
		t.Fatalf("EncryptFields counts %d values, gjson finds %d: %q", n, total, in)
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	var rebuilt []byte
	last := 0
	for _, s := range spans {
		if s.start < last {
			t.Fatalf("overlapping ciphertext spans in %q", out)
		}
		rebuilt = append(rebuilt, out[last:s.start]...)
		rebuilt = append(rebuilt, s.orig...)
		last = s.end
	}
	rebuilt = append(rebuilt, out[last:]...)
	if !bytes.Equal(rebuilt, in) {
		t.Fatalf("bytes outside the encrypted values changed:\n in: %q\nout: %q", in, rebuilt)
	}

	// Cross-check with encoding/json, which keeps the LAST of duplicate
	// keys: whatever string it reads at a sensitive path of the input, it
	// must read a ciphertext of that string at the same place of the output.
	var decodedOut any
	if err := json.Unmarshal(out, &decodedOut); err != nil {
		t.Fatalf("encoding/json cannot decode the output: %v", err)
	}
	for _, v := range stdIn {
		if v.bad != "" {
			t.Fatalf("%s: accepted, but encoding/json reads %s there: %q", v.where(), v.bad, in)
		}
		s, ok := v.value.(string)
		if !ok {
			t.Fatalf("%s: accepted, but encoding/json reads %T there: %q", v.where(), v.value, in)
		}
		got, found := stdGet(decodedOut, v.path)
		if !found {
			t.Fatalf("%s: gone from the output: %q", v.where(), out)
		}
		ct, ok := got.(string)
		if !ok || ct == s || plainOf[ct] != s {
			t.Fatalf("%s: encoding/json reads %q in the output for the input's %q, not its ciphertext", v.where(), got, s)
		}
	}
}

// checkRefusal checks an error from EncryptFields: no output, a
// *jsonfield.Error (or a wrapped encryption error) naming a configured path, and
// no sensitive value quoted.
func checkRefusal(t *testing.T, err error, out []byte, n int, paths []string, gjsonIn map[string][]gjson.Result, stdIn []stdValue) {
	t.Helper()
	if out != nil || n != 0 {
		t.Fatalf("error %v returned with output %q, count %d", err, out, n)
	}
	msg := err.Error()
	var fe *jsonfield.Error
	if !errors.As(err, &fe) {
		if !strings.HasPrefix(msg, "encrypting ") {
			t.Fatalf("error %T %q is neither a *jsonfield.Error nor an encryption error", err, msg)
		}
		return
	}
	// The field is a concrete path: configured keys and array indexes only,
	// so no byte of the body's values can reach the message through it.
	if fe.Field != "" {
		known := map[string]bool{}
		for _, p := range paths {
			for _, seg := range testkit.Segments(p) {
				known[seg] = true
			}
		}
		for _, seg := range strings.Split(fe.Field, ".") {
			if _, err := strconv.Atoi(seg); err != nil && !known[seg] {
				t.Fatalf("error field %q has segment %q, not a configured key or an index", fe.Field, seg)
			}
		}
	}
	rest := strings.Replace(msg, fe.Field, "", 1)
	var secrets []string
	for _, rs := range gjsonIn {
		for _, r := range rs {
			if r.Type == gjson.String {
				secrets = append(secrets, r.Str)
			}
		}
	}
	for _, v := range stdIn {
		if s, ok := v.value.(string); ok {
			secrets = append(secrets, s)
		}
	}
	for _, s := range secrets {
		if quotesSecret(rest, s) {
			t.Fatalf("error message %q quotes the sensitive value %q", msg, s)
		}
	}
}

// reasonVocabulary is the fixed text of the scanner's and encrypter's
// messages: a "secret" that is part of it proves nothing when found there.
const reasonVocabulary = "request body must be a JSON object; invalid JSON at byte : unexpected data after the JSON object " +
	"nesting deeper than unexpected end of input must be a JSON string, got object array string boolean null number " +
	"must be a JSON array key appears more than once expected a string key expected ':' after object key " +
	"unexpected end of input in object expected ',' or '}' in object unexpected end of input in array " +
	"expected ',' or ']' in array invalid literal invalid number control character in string invalid UTF-8 in string " +
	"unterminated string unterminated escape invalid \\u escape lone UTF-16 surrogate in \\u escape invalid escape character " +
	"unexpected character is bytes long; RSA-OAEP can encrypt at most 214"

// quotesSecret reports whether msg plainly contains the sensitive value s.
// Short values, values made of the messages' own words and numbers that
// could be a byte offset are not evidence.
func quotesSecret(msg, s string) bool {
	if utf8.RuneCountInString(s) < 6 || strings.Contains(reasonVocabulary, s) {
		return false
	}
	if strings.Trim(s, "0123456789") == "" && len(s) < 10 {
		return false
	}
	return strings.Contains(msg, s)
}

// gjsonLocate finds with gjson every value at a field path, with Index set
// to its offset in doc; it returns nil for a body gjson finds invalid.
func gjsonLocate(doc []byte, path string) []gjson.Result {
	if !gjson.ValidBytes(doc) {
		return nil
	}
	return testkit.Walk(gjson.ParseBytes(doc), testkit.Segments(path))
}

// stdValue is what encoding/json reads at one concrete sensitive path.
type stdValue struct {
	path  []any // string keys and int indexes
	value any
	bad   string // set when a container on the way has the wrong type
}

func (v stdValue) where() string {
	parts := make([]string, len(v.path))
	for i, p := range v.path {
		switch p := p.(type) {
		case string:
			parts[i] = p
		case int:
			parts[i] = strconv.Itoa(p)
		}
	}
	return strings.Join(parts, ".")
}

// stdLocate walks a value decoded by encoding/json along segs, reporting
// every leaf and every container of the wrong type (null is allowed on the
// way: an absent optional part).
func stdLocate(v any, segs []string) []stdValue {
	var found []stdValue
	var walk func(v any, segs []string, path []any)
	walk = func(v any, segs []string, path []any) {
		if len(segs) == 0 {
			found = append(found, stdValue{path: append([]any(nil), path...), value: v})
			return
		}
		if v == nil {
			return
		}
		if segs[0] == "#" {
			arr, ok := v.([]any)
			if !ok {
				found = append(found, stdValue{path: append([]any(nil), path...), bad: "a " + jsonKind(v) + " instead of an array"})
				return
			}
			for i, e := range arr {
				walk(e, segs[1:], append(path, i))
			}
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			found = append(found, stdValue{path: append([]any(nil), path...), bad: "a " + jsonKind(v) + " instead of an object"})
			return
		}
		if child, ok := obj[segs[0]]; ok {
			walk(child, segs[1:], append(path, segs[0]))
		}
	}
	walk(v, segs, nil)
	return found
}

func stdGet(v any, path []any) (any, bool) {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = obj[p]; !ok {
				return nil, false
			}
		case int:
			arr, ok := v.([]any)
			if !ok || p >= len(arr) {
				return nil, false
			}
			v = arr[p]
		}
	}
	return v, true
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case nil:
		return "null"
	}
	return "?"
}

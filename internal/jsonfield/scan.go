package jsonfield

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting so that a hostile body cannot exhaust the stack.
const maxJSONDepth = 256

// MaxValues bounds how many values one document may name:
// each grows to 344 bytes and costs an RSA operation, so without a bound a
// 1 MiB body of empty names would become 20 MiB and seconds of CPU. WeChat
// Pay's largest batches (transfers) hold a few thousand entries.
const MaxValues = 4096

// Error reports why a document or one of its fields cannot be handled. It
// names the field and the reason, never the field's value.
type Error struct {
	// Field is the concrete path of the field, array indexes included
	// (e.g. "transfer_detail_list.3.user_name"); empty for the whole body.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Value is one JSON string found at a path of a Set.
type Value struct {
	// Start and End are the byte span of the JSON string literal in the
	// document, quotes included: what a splice replaces.
	Start, End int
	// Plain is the decoded string.
	Plain []byte
	path  *pathSegment // concrete path, turned into text only for messages
}

// Path is the value's concrete path, array indexes included, e.g.
// "transfer_detail_list.3.user_name".
func (v Value) Path() string { return v.path.String() }

// scanner validates a JSON document strictly (RFC 8259, UTF-8 only) and
// collects the string values found at the paths of a Set. It never
// re-encodes anything: the caller splices ciphertext into the original bytes.
type scanner struct {
	data  []byte
	pos   int
	found []Value
	// allowNull lets a sensitive field be null (responses: "no value").
	allowNull bool
	// segments hands out path segments from one allocation; found values
	// keep pointers to them, so it is never grown in place.
	segments []pathSegment
}

// segment returns a new path segment, from s.segments while it has room.
func (s *scanner) segment(seg pathSegment) *pathSegment {
	if len(s.segments) == cap(s.segments) {
		s.segments = make([]pathSegment, 0, 16)
	}
	s.segments = append(s.segments, seg)
	return &s.segments[len(s.segments)-1]
}

// Find parses data as one JSON object and returns every value that fields
// names, in document order. Any syntax error, a non-object document, a value
// other than a string on a path of fields, or a repeated key on such a path
// (or on the way to one) is an *Error. Request bodies are read this way.
func Find(data []byte, fields *Set) ([]Value, error) {
	s := &scanner{data: data, found: make([]Value, 0, 8)}
	return s.scan(fields)
}

// FindOptional is Find for answers, where a field WeChat Pay has no value
// for may be null: such a value is skipped.
func FindOptional(data []byte, fields *Set) ([]Value, error) {
	s := &scanner{data: data, allowNull: true}
	return s.scan(fields)
}

func (s *scanner) scan(fields *Set) ([]Value, error) {
	data := s.data
	s.skipSpace()
	if s.pos >= len(data) || data[s.pos] != '{' {
		return nil, &Error{Reason: "body must be a JSON object"}
	}
	if err := s.value(fields, nil, 0); err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return nil, s.syntaxError("unexpected data after the JSON object")
	}
	return s.found, nil
}

// pathSegment is one step of the concrete path being scanned, kept as a
// linked list so that no string is built unless a message needs it.
type pathSegment struct {
	parent *pathSegment
	key    string
	index  int // used when key is empty
}

func (p *pathSegment) String() string {
	if p == nil {
		return ""
	}
	var seg string
	if p.key != "" {
		seg = p.key
	} else {
		seg = strconv.Itoa(p.index)
	}
	if p.parent == nil {
		return seg
	}
	return p.parent.String() + "." + seg
}

func (s *scanner) syntaxError(reason string) error {
	return &Error{Reason: "invalid JSON at byte " + strconv.Itoa(s.pos) + ": " + reason}
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans one JSON value. node is the part of the field tree that applies
// here, or nil when nothing below this point is sensitive.
func (s *scanner) value(node *Set, path *pathSegment, depth int) error {
	if depth > maxJSONDepth {
		return s.syntaxError("nesting deeper than " + strconv.Itoa(maxJSONDepth))
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		return s.syntaxError("unexpected end of input")
	}
	c := s.data[s.pos]
	if node != nil && node.leaf {
		if c == 'n' && s.allowNull {
			return s.literal("null")
		}
		if c != '"' {
			return &Error{Field: path.String(), Reason: "must be a JSON string, got " + kindOf(c)}
		}
		start := s.pos
		plain, err := s.stringValue(true)
		if err != nil {
			return err
		}
		if len(s.found) == MaxValues {
			return &Error{Reason: "more than " + strconv.Itoa(MaxValues) + " sensitive values in one body"}
		}
		s.found = append(s.found, Value{Start: start, End: s.pos, path: path, Plain: plain})
		return nil
	}
	if node != nil && c != 'n' {
		// A container on the way to a sensitive field must have the
		// expected shape, or the sensitive data could hide in it unseen.
		if c == '[' && node.each == nil || c == '{' && len(node.keys) == 0 || c != '[' && c != '{' {
			want := "a JSON object"
			if node.each != nil {
				want = "a JSON array"
			}
			return &Error{Field: path.String(), Reason: "must be " + want + ", got " + kindOf(c)}
		}
	}
	switch c {
	case '{':
		return s.object(node, path, depth)
	case '[':
		return s.array(node, path, depth)
	case '"':
		_, err := s.stringValue(false)
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return s.number()
		}
		// The byte is not quoted: it may be the first of a value the
		// client forgot to put in quotes, a sensitive one.
		return s.syntaxError("unexpected character")
	}
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func (s *scanner) object(node *Set, path *pathSegment, depth int) error {
	s.pos++ // '{'
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	var seen []*Set // children on a sensitive path met in this object
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.syntaxError("expected a string key")
		}
		// Keys are decoded only where they matter, so that an escaped key
		// ("real\u005fname") is recognised as the sensitive one it spells.
		keyBytes, err := s.stringValue(node != nil)
		if err != nil {
			return err
		}
		var child *Set
		var childPath *pathSegment
		if node != nil {
			child = node.keys[string(keyBytes)] // no allocation for the lookup
			if child == nil {
				if like := foldMatch(node, keyBytes); like != "" {
					return &Error{Field: (&pathSegment{parent: path, key: like}).String(),
						Reason: "a key differs from this field only by case; a lenient server would read it as this field"}
				}
			}
			if child != nil {
				childPath = s.segment(pathSegment{parent: path, key: child.key})
				for _, c := range seen {
					if c == child {
						return &Error{Field: childPath.String(), Reason: "key appears more than once"}
					}
				}
				seen = append(seen, child)
			}
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.syntaxError("expected ':' after object key")
		}
		s.pos++
		if err := s.value(child, childPath, depth+1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.syntaxError("unexpected end of input in object")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntaxError("expected ',' or '}' in object")
		}
	}
}

func (s *scanner) array(node *Set, path *pathSegment, depth int) error {
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	var child *Set
	if node != nil {
		child = node.each
	}
	for i := 0; ; i++ {
		var elemPath *pathSegment
		if child != nil {
			elemPath = s.segment(pathSegment{parent: path, index: i})
		}
		if err := s.value(child, elemPath, depth+1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.syntaxError("unexpected end of input in array")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.syntaxError("expected ',' or ']' in array")
		}
	}
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.syntaxError("invalid literal")
	}
	s.pos += len(word)
	return nil
}

// number checks the RFC 8259 number grammar; its bytes are never touched, so
// an 18-digit identifier reaches WeChat Pay exactly as the client wrote it.
func (s *scanner) number() error {
	d := s.data
	if d[s.pos] == '-' {
		s.pos++
	}
	digits := func() int {
		n := 0
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.pos < len(d) && d[s.pos] == '0' {
		s.pos++
	} else if digits() == 0 {
		return s.syntaxError("invalid number")
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return s.syntaxError("invalid number")
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return s.syntaxError("invalid number")
		}
	}
	return nil
}

// stringValue scans a JSON string starting at its opening quote. With decode
// set it returns the decoded bytes, with \u escapes (surrogate pairs too)
// turned into UTF-8; lone surrogates are refused there, since no faithful
// UTF-8 text exists for them. Raw bytes must be valid UTF-8 in any case.
func (s *scanner) stringValue(decode bool) ([]byte, error) {
	d := s.data
	s.pos++ // opening quote
	start := s.pos
	var out []byte
	for s.pos < len(d) {
		c := d[s.pos]
		switch {
		case c == '"':
			if decode && out == nil {
				out = d[start:s.pos:s.pos]
			}
			s.pos++
			return out, nil
		case c < 0x20:
			return nil, s.syntaxError("control character in string")
		case c == '\\':
			if decode && out == nil {
				out = append(make([]byte, 0, s.pos-start+16), d[start:s.pos]...)
			}
			if err := s.escape(decode, &out); err != nil {
				return nil, err
			}
		case c < utf8.RuneSelf:
			if decode && out != nil {
				out = append(out, c)
			}
			s.pos++
		default:
			r, size := utf8.DecodeRune(d[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, s.syntaxError("invalid UTF-8 in string")
			}
			if decode && out != nil {
				out = append(out, d[s.pos:s.pos+size]...)
			}
			s.pos += size
		}
	}
	return nil, s.syntaxError("unterminated string")
}

// escape scans one backslash escape, appending its meaning to out when
// decoding (out is non-nil then).
func (s *scanner) escape(decode bool, out *[]byte) error {
	d := s.data
	if s.pos+1 >= len(d) {
		return s.syntaxError("unterminated escape")
	}
	c := d[s.pos+1]
	var b byte
	switch c {
	case '"', '\\', '/':
		b = c
	case 'b':
		b = '\b'
	case 'f':
		b = '\f'
	case 'n':
		b = '\n'
	case 'r':
		b = '\r'
	case 't':
		b = '\t'
	case 'u':
		r, ok := s.hex4(s.pos + 2)
		if !ok {
			return s.syntaxError("invalid \\u escape")
		}
		s.pos += 6
		if utf16.IsSurrogate(r) {
			r2, ok2 := rune(-1), false
			if s.pos+1 < len(d) && d[s.pos] == '\\' && d[s.pos+1] == 'u' {
				r2, ok2 = s.hex4(s.pos + 2)
			}
			combined := utf16.DecodeRune(r, r2)
			if !ok2 || combined == utf8.RuneError {
				if decode {
					return s.syntaxError("lone UTF-16 surrogate in \\u escape")
				}
				return nil // valid JSON syntax; the value is not ours to interpret
			}
			s.pos += 6
			r = combined
		}
		if decode {
			*out = utf8.AppendRune(*out, r)
		}
		return nil
	default:
		return s.syntaxError("invalid escape character")
	}
	s.pos += 2
	if decode {
		*out = append(*out, b)
	}
	return nil
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// foldMatch returns the sensitive key of node that key equals under Unicode
// case folding without being it, or "".
func foldMatch(node *Set, key []byte) string {
	for k := range node.keys {
		if len(k) <= len(key)*3 && strings.EqualFold(k, string(key)) {
			return k
		}
	}
	return ""
}

// IsObject reports whether b is one valid JSON object (white space around
// it allowed).
func IsObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}

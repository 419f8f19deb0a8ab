package jsonfield

import (
	"fmt"
	"strings"
)

// Set is a compiled set of field paths, merged into one tree so that a
// single pass over a JSON document finds every value any of the paths names.
// Build one with NewSet.
//
// A path is a gjson-style dotted path restricted to what WeChat Pay's
// documentation uses: literal object keys separated by dots (a literal dot in
// a key is written `\.`) and `#`, meaning every element of an array.
type Set struct {
	// keys holds the children reached through an object key.
	keys map[string]*Set
	// each is the child reached through every element of an array (`#`).
	each *Set
	// leaf is set when a configured path ends here: the value must be a
	// JSON string and is replaced by its ciphertext.
	leaf bool
	// key is the object key this node is reached through ("" for the
	// root and array elements), kept so a scan names it without copying.
	key string
}

// addPath compiles one path into the tree.
func (t *Set) addPath(path string) error {
	segments, err := splitPath(path)
	if err != nil {
		return err
	}
	node := t
	for _, seg := range segments {
		if node.leaf {
			return fmt.Errorf("field %q is inside another field that is itself encrypted", path)
		}
		if seg == "#" {
			if node.each == nil {
				node.each = &Set{}
			}
			node = node.each
			continue
		}
		if node.keys == nil {
			node.keys = make(map[string]*Set)
		}
		child := node.keys[seg]
		if child == nil {
			child = &Set{key: seg}
			node.keys[seg] = child
		}
		node = child
	}
	if node.hasChildren() {
		return fmt.Errorf("field %q is both a value and a container in other paths", path)
	}
	node.leaf = true
	return nil
}

func (t *Set) hasChildren() bool { return len(t.keys) > 0 || t.each != nil }

// Empty reports whether the set names no field at all.
func (t *Set) Empty() bool { return t == nil || (!t.leaf && !t.hasChildren()) }

// splitPath splits a dotted field path into its segments, checking that
// it uses only the syntax Set understands.
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("empty field path")
	}
	var segments []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			if i+1 >= len(path) {
				return nil, fmt.Errorf("field path %q ends with a lone backslash", path)
			}
			i++
			cur.WriteByte(path[i])
		case c == '.':
			segments = append(segments, cur.String())
			cur.Reset()
		case c == '*' || c == '?' || c == '|' || c == '@' || c == '!' || c == '=' || c == '(' || c == ')':
			return nil, fmt.Errorf("field path %q uses %q: only object keys and # (every array element) are supported", path, c)
		default:
			cur.WriteByte(c)
		}
	}
	segments = append(segments, cur.String())
	for _, seg := range segments {
		if seg == "" {
			return nil, fmt.Errorf("field path %q has an empty segment", path)
		}
	}
	if segments[len(segments)-1] == "#" {
		return nil, fmt.Errorf("field path %q ends with #: name the field inside the array elements", path)
	}
	return segments, nil
}

// NewSet compiles field paths such as "identity.real_name" or
// "transfer_detail_list.#.user_name" into a Set.
func NewSet(paths ...string) (*Set, error) {
	t := &Set{}
	for _, p := range paths {
		if err := t.addPath(p); err != nil {
			return nil, err
		}
	}
	return t, nil
}

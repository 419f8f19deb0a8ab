package apiv2sign

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// FieldError says which input member is refused and why. It never quotes
// the value.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func refuse(field, reason string) *FieldError { return &FieldError{Field: field, Reason: reason} }

// member is one member of a JSON object as read: a string, or an array of
// objects of string members (the coupon list).
type member struct {
	name string
	str  string
	list [][]member // non-nil for an array
}

// readObject reads body as one JSON object whose members are strings, or,
// for the member named listName (when not ""), an array of objects of
// string members. A member given twice (after decoding escapes), a value
// of another type, trailing data or anything that is not JSON is refused.
func readObject(body []byte, listName string) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	members, err := readMembers(dec, "", listName)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, refuse("body", "must be one JSON object, with nothing after it")
	}
	return members, nil
}

// readMembers reads one object; prefix names its members in errors
// ("send_coupon_params[2]."), listName is the member that may be a list.
func readMembers(dec *json.Decoder, prefix, listName string) ([]member, error) {
	where := "body"
	if prefix != "" {
		where = prefix[:len(prefix)-1]
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, refuse(where, "is not valid JSON")
		}
		return nil, refuse(where, "must be a JSON object")
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, refuse(where, "is not valid JSON")
		}
		name, _ := tok.(string)
		field := prefix + name
		if seen[name] {
			return nil, refuse(field, "is given twice")
		}
		seen[name] = true
		m := member{name: name}
		if listName != "" && name == listName {
			m.list, err = readList(dec, field)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, refuse(field, "is not valid JSON")
		}
		s, ok := tok.(string)
		if !ok {
			if d, isDelim := tok.(json.Delim); isDelim && (d == '{' || d == '[') {
				return nil, refuse(field, "must be a string, not an object or array")
			}
			return nil, refuse(field, "must be a string")
		}
		m.str = s
		out = append(out, m)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, refuse(where, "is not valid JSON")
	}
	return out, nil
}

// readList reads an array of objects of string members.
func readList(dec *json.Decoder, field string) ([][]member, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, refuse(field, "must be an array of objects")
	}
	list := [][]member{}
	for i := 0; dec.More(); i++ {
		if i == MaxCoupons {
			return nil, refuse(field, "has more than "+strconv.Itoa(MaxCoupons)+" coupons")
		}
		obj, err := readMembers(dec, field+"["+strconv.Itoa(i)+"].", "")
		if err != nil {
			return nil, err
		}
		list = append(list, obj)
	}
	if _, err := dec.Token(); err != nil {
		return nil, refuse(field, "is not valid JSON")
	}
	return list, nil
}

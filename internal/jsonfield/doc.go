// Package jsonfield finds the values at given field paths in a JSON document,
// strictly and without re-encoding anything: a caller splices new values
// into the original bytes, so key order, white space, escapes and number
// literals stay exactly as they were sent.
//
// The scanner is stricter than encoding/json where a lenient reading could
// let a sensitive value pass unseen: it refuses invalid UTF-8 and lone
// surrogates, repeated keys on a named path or on the way to one, keys that
// differ from a named one only by case or Unicode folding, trailing data and
// nesting past 256 levels, and it recognises escaped keys ("real\u005fname").
package jsonfield

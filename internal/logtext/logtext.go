// Package logtext shortens text that arrived from outside (a header, a part
// name, a field of an unverified body) before it goes into a log line or an
// error message.
package logtext

// Truncate shortens s to at most n bytes, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

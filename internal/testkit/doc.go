// Package testkit holds the throwaway keys and requests the tests share: a
// merchant and WeChat Pay credential set generated once per test binary, a
// rotated set for key-rotation tests, a fixed known-answer key, PEM helpers
// and the reference presign request. Production code never imports it (the
// layout test checks).
package testkit

package wechatpay

import (
	"net/http"
	"strconv"
	"testing"
)

// TestHeaderValuesPastItsSlots: each value is a slice of its own (capacity
// 1, so an append copies it), and a seventh header still gets its value.
func TestHeaderValuesPastItsSlots(t *testing.T) {
	h := http.Header{}
	var v headerValues
	for i := range 7 {
		v.set(h, "X-H"+strconv.Itoa(i), strconv.Itoa(i))
	}
	for i := range 7 {
		got := h["X-H"+strconv.Itoa(i)]
		if len(got) != 1 || got[0] != strconv.Itoa(i) || cap(got) != 1 {
			t.Errorf("header %d: %q (cap %d)", i, got, cap(got))
		}
	}
	h["X-H0"] = append(h["X-H0"], "more")
	if h["X-H1"][0] != "1" {
		t.Error("an append to one header wrote over its neighbour")
	}
}

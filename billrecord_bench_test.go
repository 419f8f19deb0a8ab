package wechatpay

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkBillRecordOrdinaryGET: what an ordinary GET (an order query)
// pays for the bill-download check.
func BenchmarkBillRecordOrdinaryGET(b *testing.B) {
	h, _ := provisionedHandler(b, "")
	r := httptest.NewRequest("GET", "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, found, _ := h.billRecord(r); found {
			b.Fatal("found")
		}
	}
}

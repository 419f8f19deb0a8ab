package notification

import (
	"net/http"
	"testing"
)

// TestMerchantsOf: sp_mchid wins over mchid, sub_mchid is read, and a value
// that is not a merchant number is left out; SetHeaders drops a header
// whose number is missing.
func TestMerchantsOf(t *testing.T) {
	for _, tc := range []struct {
		plain string
		want  Merchants
	}{
		{`{"mchid":"1900000109"}`, Merchants{MchID: "1900000109"}},
		{`{"sp_mchid":"1900000100","mchid":"1","sub_mchid":"1900000109"}`, Merchants{MchID: "1900000100", SubMchID: "1900000109"}},
		{`{"mchid":"19x"}`, Merchants{}},
		{`{"mchid":1900000109}`, Merchants{}},
		{`{"mchid":"123456789012345678901234567890123"}`, Merchants{}},
	} {
		if got := MerchantsOf([]byte(tc.plain)); got != tc.want {
			t.Errorf("MerchantsOf(%s) = %+v, want %+v", tc.plain, got, tc.want)
		}
	}
	hdr := http.Header{SubMchIDHeader: {"forged"}}
	Merchants{MchID: "1900000109"}.SetHeaders(hdr)
	if hdr.Get(MchIDHeader) != "1900000109" || hdr.Get(SubMchIDHeader) != "" {
		t.Errorf("SetHeaders: %v", hdr)
	}
}

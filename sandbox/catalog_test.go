package sandbox

import (
	"testing"
)

func TestCatalogIsTheReference(t *testing.T) {
	if n := len(Endpoints()); n != 127 {
		t.Errorf("%d endpoints, want 127", n)
	}
}

func TestMatchEndpoint(t *testing.T) {
	for _, tc := range []struct {
		method, path, want string
		params             map[string]string
	}{
		{"POST", PresignPath, PresignPath, nil},
		{"GET", "/v3/aggracct-bc/wb-channel/special-reduction/R1", "/v3/aggracct-bc/wb-channel/special-reduction/{out_request_no}", map[string]string{"out_request_no": "R1"}},
		{"GET", "/v3/fund-app/brand-redpacket/brand-merchant-batches/B1/details/D2", "/v3/fund-app/brand-redpacket/brand-merchant-batches/{batch_no}/details/{detail_no}", map[string]string{"batch_no": "B1", "detail_no": "D2"}},
		{"GET", PresignPath, "", nil},
		{"POST", "/v3/aggracct-bc/wb-channel/special-reduction/", "", nil},
		{"POST", "/v3/eduschoolpay/contracts/presign/extra", "", nil},
	} {
		ep, params, ok := MatchEndpoint(tc.method, tc.path)
		if ok != (tc.want != "") || ep.Path != tc.want {
			t.Errorf("%s %s: got %q %v", tc.method, tc.path, ep.Path, ok)
			continue
		}
		for k, v := range tc.params {
			if params[k] != v {
				t.Errorf("%s: param %s = %q", tc.path, k, params[k])
			}
		}
	}
	ep, _, _ := MatchEndpoint("POST", PresignPath)
	if !ep.HasSensitiveRequest() || len(ep.RequestBody) != 5 {
		t.Errorf("presign entry %+v", ep)
	}
}

func TestMatchTemplatePrefersLiterals(t *testing.T) {
	_, lit1, ok1 := matchTemplate("/v3/a/{id}", "/v3/a/list")
	_, lit2, ok2 := matchTemplate("/v3/a/list", "/v3/a/list")
	if !ok1 || !ok2 || lit2 <= lit1 {
		t.Errorf("literal counts %d %d", lit1, lit2)
	}
}

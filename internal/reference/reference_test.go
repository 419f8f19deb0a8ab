package reference

import (
	"strings"
	"testing"
)

// The counts are WeChat Pay's documentation as of the files' date; a change
// to a file must change them here too, on purpose.
func TestReferenceFiles(t *testing.T) {
	sens := SensitiveEndpoints()
	if len(sens) != 127 {
		t.Errorf("%d endpoints with sensitive fields, want 127", len(sens))
	}
	all := Endpoints()
	if len(all) != 866 {
		t.Errorf("%d documented endpoints, want 866", len(all))
	}
	documented := map[string]bool{}
	for _, e := range all {
		key := e.Method + " " + e.Path
		if documented[key] {
			t.Errorf("%s is listed twice", key)
		}
		documented[key] = true
		if e.Title == "" {
			t.Errorf("%s has no title", key)
		}
	}
	for _, e := range sens {
		if !e.HasSensitiveRequest() && len(e.ResponseBody) == 0 {
			t.Errorf("%s %s lists no field", e.Method, e.Path)
		}
		if !documented[e.Method+" "+e.Path] && !strings.Contains(e.Path, "{") {
			t.Logf("%s %s is not among the documented endpoints", e.Method, e.Path)
		}
	}
	sens[0].Path = "changed"
	if SensitiveEndpoints()[0].Path == "changed" {
		t.Error("SensitiveEndpoints hands out its own list")
	}
}

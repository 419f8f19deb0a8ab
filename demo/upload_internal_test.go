package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// TestImageUpload: the upload of step 9 is a multipart/form-data body with
// a meta part naming the file and its SHA-256, then the file part: a PNG
// that decodes.
func TestImageUpload(t *testing.T) {
	u, err := newImageUpload()
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(u.contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q", u.contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(u.body), params["boundary"])
	var names []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(p)
		names = append(names, p.FormName())
		switch p.FormName() {
		case "meta":
			if p.Header.Get("Content-Type") != "application/json" || !bytes.Equal(content, u.meta) {
				t.Errorf("meta part %v: %s", p.Header, content)
			}
		case "file":
			if p.FileName() != "demo.png" || p.Header.Get("Content-Type") != "image/png" || !bytes.Equal(content, u.image) {
				t.Errorf("file part %v, %d bytes", p.Header, len(content))
			}
		}
	}
	if strings.Join(names, ",") != "meta,file" {
		t.Errorf("parts %v, want meta then file", names)
	}
	sum := sha256.Sum256(u.image)
	if want := `{"filename":"demo.png","sha256":"` + hex.EncodeToString(sum[:]) + `"}`; string(u.meta) != want {
		t.Errorf("meta %s, want %s", u.meta, want)
	}
	img, err := png.Decode(bytes.NewReader(u.image))
	if err != nil || img.Bounds().Dx() != uploadSide || img.Bounds().Dy() != uploadSide {
		t.Errorf("the image is not a %d×%d PNG: %v", uploadSide, uploadSide, err)
	}
}

// TestUploadProblems: step 9 fails when the simulator received other
// bytes, another Content-Type or endpoint than the app sent, or did not
// make or pass its checks. (End to end, the proxy forwards the body as it
// is: these are the failures a test cannot provoke through it.)
func TestUploadProblems(t *testing.T) {
	u, err := newImageUpload()
	if err != nil {
		t.Fatal(err)
	}
	received := func() sandbox.Exchange {
		x := sandbox.Exchange{Method: http.MethodPost, RequestURI: sandbox.MediaUploadPath,
			Header: http.Header{"Content-Type": {u.contentType}}, Body: bytes.Clone(u.body)}
		for _, name := range uploadChecks {
			x.Steps = append(x.Steps, sandbox.Step{Name: name, OK: true})
		}
		return x
	}
	if p := uploadProblems(u, received()); len(p) != 0 {
		t.Fatalf("the upload as sent: %v", p)
	}
	for name, tc := range map[string]struct {
		change func(*sandbox.Exchange)
		want   string
	}{
		"a byte of the file changed": {func(x *sandbox.Exchange) {
			i := bytes.Index(x.Body, u.image) + len(u.image)/2
			x.Body[i] ^= 1
		}, "is not the one the app sent"},
		"the body cut short": {func(x *sandbox.Exchange) { x.Body = x.Body[:len(x.Body)-10] }, "is not the one the app sent"},
		"another boundary": {func(x *sandbox.Exchange) {
			x.Header.Set("Content-Type", "multipart/form-data; boundary=other")
		}, "with Content-Type"},
		"the Content-Type without its boundary": {func(x *sandbox.Exchange) {
			x.Header.Set("Content-Type", "multipart/form-data")
		}, "with Content-Type"},
		"another endpoint": {func(x *sandbox.Exchange) { x.RequestURI = sandbox.VideoUploadPath }, "the app sent POST " + sandbox.MediaUploadPath},
		"a check failed": {func(x *sandbox.Exchange) {
			i := slices.IndexFunc(x.Steps, func(s sandbox.Step) bool { return s.Name == "file sha256" })
			x.Steps[i] = sandbox.Step{Name: "file sha256", OK: false, Detail: "mismatch"}
		}, `check "file sha256" of the upload failed: mismatch`},
		"a check not made": {func(x *sandbox.Exchange) { x.Steps = x.Steps[:len(x.Steps)-1] }, "did not check the upload's file size"},
	} {
		x := received()
		tc.change(&x)
		p := uploadProblems(u, x)
		if len(p) != 1 || !strings.Contains(p[0], tc.want) {
			t.Errorf("%s: problems %q, want one with %q", name, p, tc.want)
		}
	}
}

// TestAnswerString: only a 200 answer's string field counts.
func TestAnswerString(t *testing.T) {
	for _, tc := range []struct {
		a    *appAnswer
		want string
	}{
		{&appAnswer{status: 200, body: []byte(`{"media_id":"abc"}`)}, "abc"},
		{&appAnswer{status: 400, body: []byte(`{"media_id":"abc"}`)}, ""},
		{&appAnswer{status: 200, body: []byte(`{"media_id":12}`)}, ""},
		{&appAnswer{status: 200, body: []byte(`{}`)}, ""},
		{nil, ""},
	} {
		if got := answerString(tc.a, "media_id"); got != tc.want {
			t.Errorf("answerString(%v, media_id) = %q, want %q", tc.a, got, tc.want)
		}
	}
}

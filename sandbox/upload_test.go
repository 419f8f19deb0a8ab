package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/fileuploader"
)

var mediaIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{60,100}$`)

// uploadSDKClient is the official SDK client in public-key mode, its
// api.mch.weixin.qq.com URLs sent to h (the file uploaders build absolute
// URLs themselves).
func uploadSDKClient(t *testing.T, h *harness) *core.Client {
	t.Helper()
	base, _ := url.Parse(h.ts.URL)
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(creds.MchID, creds.MerchantSerial, creds.MerchantPrivateKey, creds.PublicKeyID, creds.PublicKey),
		option.WithHTTPClient(&http.Client{Transport: toHarness{base: base, rt: h.ts.Client().Transport}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeFile returns n bytes that differ from call to call (seed).
func fakeFile(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) + seed
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// metaFor is the meta JSON the SDK would send for file.
func metaFor(t *testing.T, filename string, file []byte) []byte {
	return mustJSON(t, map[string]string{"filename": filename, "sha256": sha256Hex(file)})
}

// form builds a multipart/form-data body with the SDK's own helpers.
type form struct {
	t   *testing.T
	buf bytes.Buffer
	w   *multipart.Writer
}

func newForm(t *testing.T) *form {
	f := &form{t: t}
	f.w = multipart.NewWriter(&f.buf)
	return f
}

func (f *form) meta(meta []byte) *form {
	if err := core.CreateFormField(f.w, "meta", consts.ApplicationJSON, meta); err != nil {
		f.t.Fatal(err)
	}
	return f
}

func (f *form) file(filename string, content []byte) *form {
	if err := core.CreateFormFile(f.w, filename, "application/octet-stream", content); err != nil {
		f.t.Fatal(err)
	}
	return f
}

// done closes the form: its body and Content-Type.
func (f *form) done() ([]byte, string) {
	if err := f.w.Close(); err != nil {
		f.t.Fatal(err)
	}
	return f.buf.Bytes(), f.w.FormDataContentType()
}

// passed returns the names of the exchange's steps that passed.
func passed(x Exchange) map[string]bool {
	ok := map[string]bool{}
	for _, s := range x.Steps {
		if s.OK {
			ok[s.Name] = true
		}
	}
	return ok
}

func TestUploadsWithSDKFileUploaders(t *testing.T) {
	h := newHarness(t, nil)
	client := uploadSDKClient(t, h)
	ctx := context.Background()

	img := fakeFile(150_000, 1)
	ir, res, err := (&fileuploader.ImageUploader{Client: client}).Upload(ctx, bytes.NewReader(img), "photo.jpg", consts.ImageJPG)
	if err != nil {
		t.Fatalf("SDK ImageUploader (it verifies the signed answer): %v", err)
	}
	if ir.MediaId == nil || !mediaIDPattern.MatchString(*ir.MediaId) {
		t.Fatalf("image media_id %v", ir.MediaId)
	}
	if s := res.Response.Header.Get("Wechatpay-Serial"); s != creds.PublicKeyID {
		t.Errorf("answer signed by %s, want the public key %s", s, creds.PublicKeyID)
	}
	x := h.last(t)
	if st, failed := x.Failed(); failed {
		t.Fatalf("failed step %+v", st)
	}
	if x.Endpoint != "POST "+MediaUploadPath || x.Status != 200 {
		t.Errorf("exchange %q %d", x.Endpoint, x.Status)
	}
	ok := passed(x)
	for _, name := range []string{"multipart", "meta part", "signature", "content-type", "meta", "file part", "file sha256", "file extension", "file size"} {
		if !ok[name] {
			t.Errorf("no passed step %q in %+v", name, x.Steps)
		}
	}
	if ok["json body"] {
		t.Error("the JSON check ran on a multipart body")
	}
	if !bytes.Contains(x.Body, img) {
		t.Error("Exchange.Body is not the whole multipart body")
	}

	video := fakeFile(3<<20, 2)
	vr, _, err := (&fileuploader.VideoUploader{Client: client}).Upload(ctx, bytes.NewReader(video), "clip.mp4", consts.VideoMP4)
	if err != nil {
		t.Fatalf("SDK VideoUploader: %v", err)
	}
	if vr.MediaId == nil || !mediaIDPattern.MatchString(*vr.MediaId) || *vr.MediaId == *ir.MediaId {
		t.Fatalf("video media_id %v (image's %s)", vr.MediaId, *ir.MediaId)
	}
	if x := h.last(t); x.Endpoint != "POST "+VideoUploadPath {
		t.Errorf("video exchange endpoint %q", x.Endpoint)
	}

	// The SDK does check the answer's signature: signed by an unknown key,
	// the same upload fails.
	h.srv.SetFaults(Faults{WrongKey: true})
	if _, _, err := (&fileuploader.ImageUploader{Client: client}).Upload(ctx, bytes.NewReader(img), "photo.jpg", consts.ImageJPG); err == nil {
		t.Error("SDK accepted an upload answer signed by an unknown key")
	}
}

func TestUploadWithSDKClientUpload(t *testing.T) {
	h := newHarness(t, nil)
	client := h.sdkClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, path, filename string
		file                 []byte
		upperDigest          bool
	}{
		{name: "image of exactly MaxImageBytes", path: MediaUploadPath, filename: "full.png", file: fakeFile(MaxImageBytes, 3)},
		{name: "video of exactly MaxVideoBytes", path: VideoUploadPath, filename: "full.MOV", file: fakeFile(MaxVideoBytes, 4)},
		{name: "upper-case sha256", path: MediaUploadPath, filename: "a.bmp", file: fakeFile(1000, 5), upperDigest: true},
		{name: "jpeg", path: MediaUploadPath, filename: "a.b.jpeg", file: fakeFile(10, 6)},
		{name: "rmvb", path: VideoUploadPath, filename: "film.rmvb", file: fakeFile(10, 7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digest := sha256Hex(tc.file)
			if tc.upperDigest {
				digest = strings.ToUpper(digest)
			}
			meta := mustJSON(t, map[string]string{"filename": tc.filename, "sha256": digest})
			body, ct := newForm(t).meta(meta).file(tc.filename, tc.file).done()
			res, err := client.Upload(ctx, h.ts.URL+tc.path, string(meta), string(body), ct)
			if err != nil {
				t.Fatalf("SDK Upload: %v; steps %+v", err, h.last(t).Steps)
			}
			var got struct {
				MediaID string `json:"media_id"`
			}
			if err := core.UnMarshalResponse(res.Response, &got); err != nil || !mediaIDPattern.MatchString(got.MediaID) {
				t.Fatalf("answer %+v, %v", got, err)
			}
		})
	}

	// A refusal through the SDK's own error type.
	file := fakeFile(100, 8)
	meta := mustJSON(t, map[string]string{"filename": "a.jpg", "sha256": sha256Hex(file[1:])})
	body, ct := newForm(t).meta(meta).file("a.jpg", file).done()
	_, err := client.Upload(ctx, h.ts.URL+MediaUploadPath, string(meta), string(body), ct)
	if !core.IsAPIError(err, "PARAM_ERROR") || err.(*core.APIError).StatusCode != 400 {
		t.Fatalf("sha256 mismatch through the SDK: %v", err)
	}
	if st, _ := h.last(t).Failed(); st.Name != "file sha256" {
		t.Errorf("failed step %+v, want file sha256", st)
	}
}

// TestUploadMetaBytesAreRaw: a meta part declaring quoted-printable is
// signed as sent; decoding it (multipart's NextPart would) breaks the
// signature.
func TestUploadMetaBytesAreRaw(t *testing.T) {
	h := newHarness(t, nil)
	file := fakeFile(64, 9)
	meta := mustJSON(t, map[string]string{"filename": "a=3D=41.jpg", "sha256": sha256Hex(file)})
	f := newForm(t)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="meta"`)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Transfer-Encoding", "quoted-printable")
	pw, err := f.w.CreatePart(hdr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = pw.Write(meta)
	body, ct := f.file("a.jpg", file).done()
	resp, rb := h.do(t, rawRequest{method: "POST", uri: MediaUploadPath, body: body, signBody: meta,
		header: map[string]string{"Content-Type": ct}})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s; steps %+v", resp.StatusCode, rb, h.last(t).Steps)
	}
	if err := validate(resp, rb); err != nil {
		t.Error(err)
	}
}

func TestUploadRefusals(t *testing.T) {
	h := newHarness(t, nil)
	img := fakeFile(5000, 10)
	imgMeta := metaFor(t, "photo.jpg", img)
	goodBody, goodCT := newForm(t).meta(imgMeta).file("photo.jpg", img).done()
	boundary := goodCT[strings.Index(goodCT, "boundary=")+len("boundary="):]

	bigImg := fakeFile(MaxImageBytes+1, 11)
	bigVideo := fakeFile(MaxVideoBytes+1, 12)
	otherMeta := metaFor(t, "other.png", img)

	type built struct {
		body, meta []byte
		ct         string
	}
	build := func(f *form, meta []byte) built {
		b, ct := f.done()
		return built{body: b, meta: meta, ct: ct}
	}
	cases := []struct {
		name     string
		path     string // default MediaUploadPath
		req      built
		signBody []byte // default req.meta
		status   int
		code     string
		field    string // detail.field
		step     string // the Exchange's failed step
	}{
		{name: "meta changed after signing", signBody: imgMeta,
			req:    build(newForm(t).meta(otherMeta).file("photo.jpg", img), otherMeta),
			status: 401, code: "SIGN_ERROR", field: "signature", step: "signature"},
		{name: "signature over the whole multipart body", signBody: goodBody,
			req:    built{body: goodBody, meta: imgMeta, ct: goodCT},
			status: 401, code: "SIGN_ERROR", field: "signature", step: "signature"},
		{name: "sha256 mismatch",
			req:    build(newForm(t).meta(metaFor(t, "photo.jpg", img[1:])).file("photo.jpg", img), metaFor(t, "photo.jpg", img[1:])),
			status: 400, code: "PARAM_ERROR", field: "meta.sha256", step: "file sha256"},
		{name: "two meta parts",
			req:    build(newForm(t).meta(imgMeta).meta(imgMeta).file("photo.jpg", img), imgMeta),
			status: 400, code: "PARAM_ERROR", field: "meta", step: "meta part"},
		{name: "no meta part",
			req:    build(newForm(t).file("photo.jpg", img), imgMeta),
			status: 400, code: "PARAM_ERROR", field: "meta", step: "meta part"},
		{name: "no file part",
			req:    build(newForm(t).meta(imgMeta), imgMeta),
			status: 400, code: "PARAM_ERROR", field: "file", step: "file part"},
		{name: "two file parts",
			req:    build(newForm(t).meta(imgMeta).file("photo.jpg", img).file("photo.jpg", img), imgMeta),
			status: 400, code: "PARAM_ERROR", field: "file", step: "file part"},
		{name: "meta not JSON",
			req:    build(newForm(t).meta([]byte(`filename=photo.jpg`)).file("photo.jpg", img), []byte(`filename=photo.jpg`)),
			status: 400, code: "PARAM_ERROR", field: "meta", step: "meta"},
		{name: "meta without sha256",
			req:    build(newForm(t).meta([]byte(`{"filename":"photo.jpg"}`)).file("photo.jpg", img), []byte(`{"filename":"photo.jpg"}`)),
			status: 400, code: "PARAM_ERROR", field: "meta.sha256", step: "meta"},
		{name: "meta with an empty filename",
			req:    build(newForm(t).meta(metaFor(t, "", img)).file("photo.jpg", img), metaFor(t, "", img)),
			status: 400, code: "PARAM_ERROR", field: "meta.filename", step: "meta"},
		{name: "image with a gif extension",
			req:    build(newForm(t).meta(metaFor(t, "anim.gif", img)).file("anim.gif", img), metaFor(t, "anim.gif", img)),
			status: 400, code: "PARAM_ERROR", field: "meta.filename", step: "file extension"},
		{name: "image sent to the video endpoint", path: VideoUploadPath,
			req:    built{body: goodBody, meta: imgMeta, ct: goodCT},
			status: 400, code: "PARAM_ERROR", field: "meta.filename", step: "file extension"},
		{name: "image too large",
			req:    build(newForm(t).meta(metaFor(t, "big.png", bigImg)).file("big.png", bigImg), metaFor(t, "big.png", bigImg)),
			status: 400, code: "PARAM_ERROR", field: "file", step: "file size"},
		{name: "video too large", path: VideoUploadPath,
			req:    build(newForm(t).meta(metaFor(t, "big.mp4", bigVideo)).file("big.mp4", bigVideo), metaFor(t, "big.mp4", bigVideo)),
			status: 400, code: "PARAM_ERROR", field: "file", step: "file size"},
		{name: "truncated inside the closing delimiter",
			req:    built{body: goodBody[:len(goodBody)-5], meta: imgMeta, ct: goodCT},
			status: 400, code: "PARAM_ERROR", field: "", step: "multipart"},
		{name: "truncated inside the file",
			req:    built{body: goodBody[:len(goodBody)-200], meta: imgMeta, ct: goodCT},
			status: 400, code: "PARAM_ERROR", field: "", step: "multipart"},
		{name: "ends with a delimiter instead of the closing one",
			req: built{body: append(slices.Clip(bytes.TrimSuffix(goodBody, []byte("--"+boundary+"--\r\n"))), "--"+boundary+"\r\n"...),
				meta: imgMeta, ct: goodCT},
			status: 400, code: "PARAM_ERROR", field: "", step: "multipart"},
		{name: "Content-Type without boundary",
			req:    built{body: goodBody, meta: imgMeta, ct: "multipart/form-data"},
			status: 400, code: "PARAM_ERROR", field: "Content-Type", step: "multipart"},
		{name: "JSON body to the upload endpoint",
			req:    built{body: imgMeta, meta: imgMeta, ct: "application/json"},
			status: 400, code: "PARAM_ERROR", field: "Content-Type", step: "content-type"},
		{name: "multipart body to a JSON endpoint", path: NativePayPath,
			req:    built{body: goodBody, meta: imgMeta, ct: goodCT},
			status: 400, code: "PARAM_ERROR", field: "Content-Type", step: "content-type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = MediaUploadPath
			}
			sign := tc.signBody
			if sign == nil {
				sign = tc.req.meta
			}
			resp, body := h.do(t, rawRequest{method: "POST", uri: path, body: tc.req.body, signBody: sign,
				header: map[string]string{"Content-Type": tc.req.ct}})
			if err := validate(resp, body); err != nil {
				t.Errorf("refusal does not verify with the SDK: %v", err)
			}
			e := decodeErr(t, body)
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", resp.StatusCode, e.Code, tc.status, tc.code, body)
			}
			if e.Message == "" || e.Detail == nil {
				t.Errorf("answer lacks message or detail: %s", body)
			}
			if tc.field != "" && e.Detail["field"] != tc.field {
				t.Errorf("detail.field %v, want %s: %s", e.Detail["field"], tc.field, body)
			}
			x := h.last(t)
			st, failed := x.Failed()
			if !failed || st.Name != tc.step {
				t.Errorf("failed step %+v, want %q; steps %+v", st, tc.step, x.Steps)
			}
		})
	}
}

// TestUploadSignErrorShowsMetaMessage: sign_information describes the
// message over the meta part, as the sandbox saw it.
func TestUploadSignErrorShowsMetaMessage(t *testing.T) {
	h := newHarness(t, nil)
	file := fakeFile(300, 13)
	meta := metaFor(t, "a.png", file)
	body, ct := newForm(t).meta(meta).file("a.png", file).done()
	resp, rb := h.do(t, rawRequest{method: "POST", uri: MediaUploadPath, body: body, signBody: body,
		header: map[string]string{"Content-Type": ct}})
	e := decodeErr(t, rb)
	info, _ := e.Detail["sign_information"].(map[string]any)
	if resp.StatusCode != 401 || info == nil {
		t.Fatalf("%d %s", resp.StatusCode, rb)
	}
	want := len("POST\n"+MediaUploadPath+"\n") + 10 + 1 + 32 + 1 + len(meta) + 1
	if n := int(info["sign_message_length"].(float64)); n != want {
		t.Errorf("sign_message_length %d, want %d (the meta part, %d bytes)", n, want, len(meta))
	}
	if st, _ := h.last(t).Failed(); !strings.Contains(st.Detail, "meta part") {
		t.Errorf("signature step does not say the body line is the meta part: %+v", st)
	}
}

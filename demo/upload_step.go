package demo

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// uploadChecks are the simulator's checks of a media upload that step 9
// shows in full, in the order it makes them; each must be there and pass.
// Its other checks (user-agent, mchid, timestamp...) are those of step 6.
var uploadChecks = []string{"multipart", "meta part", "signature", "content-type", "meta", "file part", "file sha256", "file extension", "file size"}

// upload is step 9: the app uploads an image through the proxy, and the
// simulator shows what it received and checked.
func (r *run) upload(ctx context.Context, proxyURL string, sim *simulator) {
	r.p.heading(9, "The app uploads an image: multipart/form-data through the proxy, signed over its meta part")
	u, err := newImageUpload()
	if err != nil {
		r.problem("building the image upload: %v", err)
		return
	}
	r.p.line("POST %s%s  (no Authorization)", proxyURL, sandbox.MediaUploadPath)
	r.p.line("Content-Type: %s", u.contentType)
	r.p.line(`part "meta" (application/json): what WeChat Pay's signature covers instead of the body`)
	r.p.block(string(u.meta))
	r.p.line(`part "file" (image/png, filename %q): a %d×%d PNG of %d bytes`, uploadFilename, uploadSide, uploadSide, len(u.image))
	r.p.line("body: %d bytes in all", len(u.body))

	before := len(sim.exchanges())
	ans, err := sendUpload(ctx, proxyURL, u)
	if err != nil {
		r.p.line("✗ sending failed: %v", err)
		r.problem("the upload could not be sent: %v", err)
		return
	}
	x, ok := r.uploadReceived(u, sim.exchanges()[before:])
	r.uploadAnswer(ans, x, ok)
}

// uploadReceived shows and checks what reached the simulator for the
// upload: xs are the exchanges it recorded since the app sent it.
func (r *run) uploadReceived(u *imageUpload, xs []sandbox.Exchange) (sandbox.Exchange, bool) {
	r.p.line(`What reached "WeChat Pay" (the simulator):`)
	x, ok := r.onlyExchange(xs, "upload")
	if !ok {
		return x, false
	}
	same := func(ok bool, what string) string {
		if ok {
			return "✓ " + what
		}
		return "✗ not what the app sent"
	}
	r.p.line("%s %s  %s", x.Method, x.RequestURI,
		same(x.Method == http.MethodPost && x.RequestURI == sandbox.MediaUploadPath, "the endpoint the app called"))
	scheme, params := authParams(x.Header.Get("Authorization"))
	r.p.line("Authorization: %s ... signature=%s  (added by the proxy)", scheme, short(params["signature"]))
	r.p.line("Content-Type: %s  %s", x.Header.Get("Content-Type"),
		same(x.Header.Get("Content-Type") == u.contentType, "as the app sent it"))
	r.p.line("body: %d bytes  %s", len(x.Body), same(bytes.Equal(x.Body, u.body), "byte for byte what the app sent"))
	r.p.line("What the simulator checked:")
	var others []string
	for _, s := range x.Steps {
		if s.OK && !slices.Contains(uploadChecks, s.Name) && s.Name != "answer" {
			others = append(others, s.Name)
			continue
		}
		r.p.line("%s %-15s %s", mark(s.OK), s.Name, s.Detail)
	}
	if len(others) > 0 {
		r.p.line("✓ and, as in step 6: %s", strings.Join(others, ", "))
	}
	r.problems = append(r.problems, uploadProblems(u, x)...)
	return x, true
}

// uploadAnswer shows and checks what the app got back for the upload.
func (r *run) uploadAnswer(a *appAnswer, x sandbox.Exchange, forwarded bool) {
	r.p.line("What the app got back: HTTP %d", a.status)
	r.checkAnswer(a, x, forwarded, "media_id", " for the upload")
}

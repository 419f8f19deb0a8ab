package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/textproto"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// uploadFilename is the name of the image the app uploads in step 9.
const uploadFilename = "demo.png"

// uploadSide is the width and height of that image, in pixels.
const uploadSide = 16

// imageUpload is the media upload of step 9 as the app sends it.
type imageUpload struct {
	// contentType is multipart/form-data with the body's boundary.
	contentType string
	// body is the whole multipart/form-data body.
	body []byte
	// meta is the content of the meta part, the JSON that WeChat Pay's
	// signature covers in place of the body.
	meta []byte
	// image is the content of the file part: a PNG.
	image []byte
	// sha256 is the hex SHA-256 of image, as meta gives it.
	sha256 string
}

// demoPNG returns a genuine PNG of uploadSide×uploadSide pixels: WeChat
// green, lighter towards the bottom right, with a white diagonal.
func demoPNG() ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, uploadSide, uploadSide))
	for y := range uploadSide {
		for x := range uploadSide {
			c := color.NRGBA{R: 0x07, G: 0xC1, B: 0x60, A: 0xFF}
			if x == y {
				c = color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF}
			} else {
				c.R += uint8(6 * (x + y))
				c.B += uint8(4 * (x + y))
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// newImageUpload builds the body of an image upload as WeChat Pay
// documents it: a meta part (application/json, the file's name and hex
// SHA-256), then a file part with the PNG.
func newImageUpload() (*imageUpload, error) {
	img, err := demoPNG()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(img)
	u := &imageUpload{image: img, sha256: hex.EncodeToString(sum[:])}
	u.meta, err = json.Marshal(struct {
		Filename string `json:"filename"`
		SHA256   string `json:"sha256"`
	}{uploadFilename, u.sha256})
	if err != nil {
		return nil, err
	}

	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	parts := []struct {
		header  textproto.MIMEHeader
		content []byte
	}{
		{textproto.MIMEHeader{"Content-Disposition": {`form-data; name="meta"`}, "Content-Type": {"application/json"}}, u.meta},
		{textproto.MIMEHeader{"Content-Disposition": {multipart.FileContentDisposition("file", uploadFilename)}, "Content-Type": {"image/png"}}, img},
	}
	for _, p := range parts {
		pw, err := w.CreatePart(p.header)
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write(p.content); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	u.body, u.contentType = body.Bytes(), w.FormDataContentType()
	return u, nil
}

// sendUpload posts u to the proxy's image upload endpoint as a legacy app
// would: its multipart body and Content-Type, no Authorization.
func sendUpload(ctx context.Context, proxyURL string, u *imageUpload) (*appAnswer, error) {
	return post(ctx, proxyURL+sandbox.MediaUploadPath, u.contentType, u.body)
}

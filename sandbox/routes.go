package sandbox

import (
	"crypto/rsa"
	"net/http"
)

// Paths the sandbox serves besides the catalog's generic answers.
const (
	// PresignPath is the eduschoolpay presign endpoint (POST).
	PresignPath = "/v3/eduschoolpay/contracts/presign"
	// NativePayPath is Native payment ordering (POST); it has no
	// sensitive fields and is here to try a plain signed pass-through.
	NativePayPath = "/v3/pay/transactions/native"
	// BillDownloadPath serves bill files (GET), unsigned as WeChat Pay does.
	BillDownloadPath = "/v3/billdownload/file"
	// MediaUploadPath is image upload (POST, multipart/form-data: a meta
	// JSON part, which the signature covers, and a file part of at most
	// MaxImageBytes, jpg/jpeg/bmp/png).
	MediaUploadPath = "/v3/merchant/media/upload"
	// VideoUploadPath is video upload (POST, multipart/form-data as for
	// MediaUploadPath; at most MaxVideoBytes, avi/wmv/mpeg/mp4/mov/mkv/
	// flv/f4v/m4v/rmvb).
	VideoUploadPath = "/v3/merchant/media/video_upload"
)

// request is one authenticated request on its way through an endpoint.
type request struct {
	r       *http.Request
	body    []byte
	x       *Exchange
	ep      Endpoint
	params  map[string]string
	keyName string          // the key Wechatpay-Serial names, if required
	key     *rsa.PrivateKey // its private key
	form    *uploadForm     // the parsed body of a multipart/form-data request
}

// route is a matched endpoint with its handlers.
type route struct {
	ep       Endpoint
	params   map[string]string
	validate func(*request) *answer // checks before decryption; may be nil
	handle   func(*Server, *request) *answer
	formData bool // takes multipart/form-data (the uploads), not JSON
	bodyless bool // a POST whose page shows no body: an empty one is fine
}

// route matches r against the special endpoints, then the catalog.
func (s *Server) route(r *http.Request) (route, bool) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == BillDownloadPath:
		return route{ep: Endpoint{Method: http.MethodGet, Path: BillDownloadPath}, handle: (*Server).billDownload}, true
	case r.Method == http.MethodGet && billRoute(path) != nil:
		return route{ep: Endpoint{Method: http.MethodGet, Path: path}, handle: billRoute(path)}, true
	case r.Method == http.MethodGet && path == CertificatesPath:
		return route{ep: Endpoint{Method: http.MethodGet, Path: CertificatesPath}, handle: (*Server).certificates}, true
	case r.Method == http.MethodPost && path == NativePayPath:
		return route{ep: Endpoint{Method: http.MethodPost, Path: NativePayPath}, handle: (*Server).nativePay}, true
	case r.Method == http.MethodPost && path == MediaUploadPath:
		return route{ep: Endpoint{Method: http.MethodPost, Path: MediaUploadPath},
			validate: imageUpload.validate, handle: (*Server).mediaUpload, formData: true}, true
	case r.Method == http.MethodPost && path == VideoUploadPath:
		return route{ep: Endpoint{Method: http.MethodPost, Path: VideoUploadPath},
			validate: videoUpload.validate, handle: (*Server).mediaUpload, formData: true}, true
	}
	if e, isPrepay := prepayEndpoints[path]; isPrepay && r.Method == http.MethodPost {
		// Cataloged (payer.identity is sensitive) so that real-name
		// fields are decrypted; a plain endpoint if the catalog drops it.
		ep, params, ok := MatchEndpoint(r.Method, path)
		if !ok {
			ep = Endpoint{Method: http.MethodPost, Path: path}
		}
		return route{ep: ep, params: params,
			validate: func(req *request) *answer { return s.validatePrepay(e, req) },
			handle:   func(s *Server, req *request) *answer { return s.issuePrepay(e, req) }}, true
	}
	if rt, ok := eduRoute(r.Method, path); ok {
		return rt, true
	}
	ep, params, ok := MatchEndpoint(r.Method, path)
	if !ok {
		return route{}, false
	}
	if ep.Method == http.MethodPost && ep.Path == PresignPath {
		return route{ep: ep, params: params, validate: validatePresign, handle: (*Server).presign}, true
	}
	return route{ep: ep, params: params, handle: (*Server).cataloged}, true
}

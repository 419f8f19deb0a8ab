package platformcert

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
)

// NewRequest returns the signed GET of url (a base URL + Path) as signer's
// merchant, naming userAgent, and serial in Wechatpay-Serial when it is not
// empty: the key WeChat Pay is asked to sign its answer with.
func NewRequest(ctx context.Context, url, userAgent string, signer *apiv3.Signer, serial string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	nonce, err := apiv3.NewNonce()
	if err != nil {
		return nil, err
	}
	auth, err := signer.Authorization(http.MethodGet, req.URL.RequestURI(), time.Now().Unix(), nonce, nil)
	if err != nil {
		return nil, fmt.Errorf("signing the request: %w", err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if serial != "" {
		req.Header.Set("Wechatpay-Serial", serial)
	}
	return req, nil
}

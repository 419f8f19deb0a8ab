package platformcert

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultBaseURLs are where platform certificates are downloaded from, in
// order: WeChat Pay's API domain, then its backup domain (the official Go
// SDK's WechatPayAPIServerBackup).
var DefaultBaseURLs = []string{"https://api.mch.weixin.qq.com", "https://api2.mch.weixin.qq.com"}

// URLs returns the download URLs of the base URLs (DefaultBaseURLs when
// none), Path added to each: each must be an http(s) URL, given once.
func URLs(bases []string) ([]string, error) {
	if len(bases) == 0 {
		bases = DefaultBaseURLs
	}
	urls := make([]string, 0, len(bases))
	for _, base := range bases {
		u, err := url.Parse(strings.TrimSuffix(base, "/") + Path)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("%q is not an http(s) URL", base)
		}
		if slices.Contains(urls, u.String()) {
			return nil, fmt.Errorf("%q is given twice", base)
		}
		urls = append(urls, u.String())
	}
	return urls, nil
}

// RunFirst runs d with each of urls in turn as its URL until one gives an
// answer to go by: the certificates, or a failure that another address
// would give too (a refusal, ErrNotFound). A URL that cannot be reached,
// times out or answers 5xx (UnavailableError) passes on to the next. Each
// attempt may take its share of the time left in ctx, and what one leaves
// goes to the next. With the certificates it returns the failures of the
// URLs tried before ("<url>: <failure>"); a download that fails is a
// *FailoverError.
func (d *Download) RunFirst(ctx context.Context, urls []string) (certs []*Certificate, failedBefore []string, err error) {
	var tried []string
	for i, u := range urls {
		attempt := *d
		attempt.URL = u
		actx, cancel := shareOfTime(ctx, len(urls)-i)
		certs, err := attempt.Run(actx)
		cancel()
		if err == nil {
			return certs, tried, nil
		}
		tried = append(tried, u+": "+withoutURL(err))
		var unavailable *UnavailableError
		if !errors.As(err, &unavailable) || i == len(urls)-1 || ctx.Err() != nil {
			return nil, nil, &FailoverError{Tried: tried, Last: err}
		}
	}
	return nil, nil, errors.New("no URL to download from")
}

// shareOfTime returns ctx with a deadline of 1/n of the time ctx has left,
// for the first of n attempts; ctx itself (cancellable) when it has no
// deadline or n is 1.
func shareOfTime(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/time.Duration(n))
}

// withoutURL returns err's message without net/http's `Get "<url>":` when
// that is all it adds, since the caller names the URL once itself.
func withoutURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Error() == err.Error() {
		return ue.Err.Error()
	}
	return err.Error()
}

// FailoverError is a download that failed at every URL tried: it names
// each with its failure, in order, and wraps the last, which says what the
// download came to (ErrNotFound, a refusal, or the last URL out of reach).
type FailoverError struct {
	Tried []string // "<url>: <failure>"
	Last  error
}

func (e *FailoverError) Error() string { return strings.Join(e.Tried, "; ") }

// Unwrap returns the last failure.
func (e *FailoverError) Unwrap() error { return e.Last }

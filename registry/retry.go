package registry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ecc-bpf/ecc/packager"
)

// DefaultRetries is how many times a push, a pull (each of its blobs) or a
// login that failed on the registry's side or was cut off midway is tried
// again. Content that already arrived is not sent again.
const DefaultRetries = 3

// withRetries runs f until it succeeds, the error is final, or the attempts
// run out: 1 + retries attempts (DefaultRetries when retries <= 0). It is
// the only retry of a registry operation; the HTTP client below does not
// retry, so a request is never retried twice over. Transfers that were cut
// off or failed on the server are retried; authentication, not-found and
// validation errors are not.
func withRetries(ctx context.Context, retries int, f func() error) error {
	if retries <= 0 {
		retries = DefaultRetries
	}
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		if err = f(); err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrTimeout) || errors.Is(err, ErrLimit) {
		return false
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, content.ErrMismatchedDigest) ||
		errors.Is(err, packager.ErrUnknownMediaType) || errors.Is(err, packager.ErrInvalid) || errors.Is(err, packager.ErrNoPlatform) {
		return false
	}
	// A name that does not resolve will not resolve the next time either.
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	// Transfers cut off (a connection dropped or refused mid-way, a body
	// ending early) and registry-side failures (5xx, and 429: too many
	// requests) are worth another try.
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	// http.Client wraps every failure in a *url.Error, which is a net.Error
	// whatever it wraps: look inside, so that a certificate refused or an
	// HTTP answer to HTTPS is final rather than retried.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &netErr)
}

// Package fetch downloads a package over HTTP(S) under the rules ecli run
// and ecc inspect share: HTTPS unless plain HTTP is allowed, never a
// redirect from HTTPS to HTTP, TLS verified as for registries (--ca-file,
// --insecure), a size cap, and timeouts on the response headers and on the
// whole transfer. It only returns bytes; deciding whether to trust them
// (a pinned digest) and parsing them is the caller's.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/internal/tlsconf"
)

// Defaults for the zero Options fields.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultHeaderTimeout = 10 * time.Second
	DefaultMaxRedirects  = 5
	DefaultMaxSize       = 100 << 20
)

// Options say which URLs to trust and how long to wait; the zero value
// allows HTTPS only, verified against the system roots, with the defaults
// above.
type Options struct {
	// PlainHTTP allows an http:// URL (--plain-http), and redirects from
	// it to other http:// URLs. A redirect from https:// to http:// is
	// refused regardless.
	PlainHTTP bool
	// CAFile adds the certificate authorities of a PEM file to the system
	// roots (--ca-file); Insecure skips verification (--insecure).
	CAFile   string
	Insecure bool
	// MaxSize caps the body in bytes (after HTTP content decoding).
	MaxSize int64
	// Timeout bounds the whole transfer, redirects and body included;
	// HeaderTimeout the wait for each response's headers (and each TLS
	// handshake).
	Timeout, HeaderTimeout time.Duration
	// MaxRedirects is how many redirects are followed.
	MaxRedirects int
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.Timeout <= 0 {
		d.Timeout = DefaultTimeout
	}
	if d.HeaderTimeout <= 0 {
		d.HeaderTimeout = DefaultHeaderTimeout
	}
	if d.MaxRedirects <= 0 {
		d.MaxRedirects = DefaultMaxRedirects
	}
	if d.MaxSize <= 0 {
		d.MaxSize = DefaultMaxSize
	}
	return d
}

// Redact hides the password of a URL with credentials (for messages).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	return u.Redacted()
}

// IsURL reports whether s names an http(s) URL rather than a file.
func IsURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// Error is a refused or failed download; its message is one line. A
// certificate that does not verify is in Err's chain
// (tlsconf.IsCertError): what to do about it is the caller's to say.
type Error struct {
	// URL is the URL asked for, its password redacted.
	URL string
	// Reason is the message after "fetch URL: ".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string { return "fetch " + e.URL + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// ErrPlainHTTP is matched (errors.Is) by the refusal of an http:// URL
// without PlainHTTP; ErrInsecureRedirect by that of a redirect from
// https:// to http://.
var (
	ErrPlainHTTP        = errors.New("plain HTTP refused")
	ErrInsecureRedirect = errors.New("redirect from HTTPS to HTTP refused")
	ErrTooLarge         = errors.New("larger than the size limit")
	ErrTimeout          = errors.New("timed out")
)

// Get downloads rawURL and returns its body.
func Get(ctx context.Context, rawURL string, o *Options) ([]byte, error) {
	opts := o.withDefaults()
	name := Redact(rawURL)
	fail := func(err error, format string, args ...any) error {
		return &Error{URL: name, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fail(err, "not an http:// or https:// URL")
	}
	if u.Scheme == "http" && !opts.PlainHTTP {
		return nil, fail(ErrPlainHTTP, "refusing plain HTTP: anyone on the network path could swap the package, which runs as root; use https://, or pass --plain-http to allow it (best with --digest sha256:... to pin what runs)")
	}
	tlsCfg, err := tlsconf.Config(opts.CAFile, opts.Insecure)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.TLSHandshakeTimeout = opts.HeaderTimeout
	tr.ResponseHeaderTimeout = opts.HeaderTimeout
	defer tr.CloseIdleConnections()
	var redirectErr error
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			prev := via[len(via)-1].URL
			switch {
			case req.URL.Scheme == "http" && hadTLS(via):
				redirectErr = fail(ErrInsecureRedirect, "refusing the redirect from %s to %s: it drops TLS (never followed, even with --plain-http)", prev.Redacted(), req.URL.Redacted())
			case req.URL.Scheme != "https" && req.URL.Scheme != "http":
				redirectErr = fail(nil, "refusing the redirect from %s to %s: not an http(s) URL", prev.Redacted(), req.URL.Redacted())
			case len(via) > opts.MaxRedirects:
				redirectErr = fail(nil, "more than %d redirects (the last to %s)", opts.MaxRedirects, req.URL.Redacted())
			default:
				return nil
			}
			return redirectErr
		},
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, ErrTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fail(err, "%v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case redirectErr != nil:
			return nil, redirectErr
		case errors.Is(context.Cause(ctx), ErrTimeout):
			return nil, fail(ErrTimeout, "no answer within %s", opts.Timeout)
		case tlsconf.IsCertError(err):
			// The caller says what to do (--ca-file, --insecure).
			return nil, fail(err, "%v", unwrapURLError(err))
		case isHeaderTimeout(err):
			return nil, fail(ErrTimeout, "no response headers within %s", opts.HeaderTimeout)
		}
		return nil, fail(err, "%v", unwrapURLError(err))
	}
	defer resp.Body.Close()
	where := ""
	if resp.Request != nil && resp.Request.URL.String() != rawURL {
		where = " (redirected to " + resp.Request.URL.Redacted() + ")"
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail(nil, "%s%s", resp.Status, where)
	}
	if resp.ContentLength > opts.MaxSize {
		return nil, fail(ErrTooLarge, "the server announces %d bytes%s, more than the %d a package may have", resp.ContentLength, where, opts.MaxSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, opts.MaxSize+1))
	if err != nil {
		switch {
		case errors.Is(context.Cause(ctx), ErrTimeout):
			return nil, fail(ErrTimeout, "not complete within %s (%d bytes received)", opts.Timeout, len(data))
		case errors.Is(err, io.ErrUnexpectedEOF) && resp.ContentLength > 0:
			return nil, fail(err, "the body ended after %d of the %d bytes its Content-Length announced%s", len(data), resp.ContentLength, where)
		}
		return nil, fail(err, "read the body%s after %d bytes: %v", where, len(data), err)
	}
	if int64(len(data)) > opts.MaxSize {
		return nil, fail(ErrTooLarge, "larger than the %d bytes a package may have%s", opts.MaxSize, where)
	}
	return data, nil
}

// hadTLS reports whether any request so far was made over HTTPS.
func hadTLS(via []*http.Request) bool {
	for _, r := range via {
		if r.URL.Scheme == "https" {
			return true
		}
	}
	return false
}

func isHeaderTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapURLError drops net/http's `Get "URL": ` prefix: Error already
// names the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

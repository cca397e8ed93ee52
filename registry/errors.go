package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ecc-bpf/ecc/internal/tlsconf"
	"github.com/ecc-bpf/ecc/registry/store"
)

// Sentinel errors. Errors returned by this package (and by the targets it
// opens) wrap one of these when the cause is known; most are an *Error,
// which also names the host and the reference, so that a command line can
// say what to do next (this package's messages do not).
var (
	// ErrUnauthorized: the registry wants credentials, rejected the ones
	// sent (HTTP 401), or denied the operation to them (HTTP 403,
	// ErrDenied).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: the registry knows who is asking and denies it the
	// operation (HTTP 403). It matches ErrUnauthorized too.
	ErrDenied = fmt.Errorf("%w: access denied", ErrUnauthorized)
	// ErrWrongCredentials: Login's credentials were rejected. It matches
	// ErrUnauthorized too.
	ErrWrongCredentials = fmt.Errorf("%w: wrong username or password", ErrUnauthorized)
	// ErrNotFound: a reference, manifest or blob does not exist. It is
	// oras-go's errdef.ErrNotFound, so that the errors of oras-go's targets
	// and of the local store match it too.
	ErrNotFound = errdef.ErrNotFound
	// ErrNotInStore: Load found no such name or platform in the local store
	// (store.ErrNotInStore; such errors match ErrNotFound too).
	ErrNotInStore = store.ErrNotInStore
	// ErrInvalidReference: a reference that ParseReference cannot accept.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrTimeout: a registry did not answer, or stalled (TimeoutError).
	ErrTimeout = errors.New("registry timed out")
	// ErrLimit: content over a limit of Limits (LimitError).
	ErrLimit = errors.New("over a limit")
	// ErrCertificate: the registry's TLS certificate is not trusted (an
	// unknown authority, a wrong name, an expired certificate).
	ErrCertificate = errors.New("registry certificate not trusted")
	// ErrPlainHTTPServer: the registry answered HTTPS with plain HTTP.
	ErrPlainHTTPServer = errors.New("registry speaks plain HTTP")
	// ErrUnreachable: no connection to the registry could be made (refused,
	// no such host, no route); the message is "cannot reach registry HOST:
	// connection refused".
	ErrUnreachable = errors.New("registry unreachable")
)

// Error is a registry failure filed under one of the sentinel errors. Its
// text is the failure's own; what to do about it (log in, pass --ca-file,
// raise --timeout) is for the caller to say, from Kind and Host.
type Error struct {
	// Kind is ErrUnauthorized, ErrDenied, ErrWrongCredentials, ErrNotFound,
	// ErrTimeout, ErrLimit, ErrCertificate, ErrPlainHTTPServer or
	// ErrUnreachable.
	Kind error
	// Host is the registry host (host[:port]); empty for a local layout.
	Host string
	// Ref is what was asked for: a reference, or the host.
	Ref string
	// Err is the original error (oras-go's, a *TimeoutError, a
	// *LimitError, a TLS error).
	Err error
	msg string // replaces Err's text when set
}

func (e *Error) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// MapError files an error from an oras-go operation on ref under one of
// the sentinel errors when the cause is known: it returns an *Error, and
// errors.Is still finds the original oras-go errors. Errors already
// mapped, invalid references, unknown causes and nil are returned
// unchanged.
func MapError(err error, ref Reference) error {
	host := ""
	if ref.Kind == Remote {
		host = ref.Registry
	}
	return classify(err, host, ref.String())
}

func classify(err error, host, what string) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) || errors.Is(err, ErrInvalidReference) {
		return err
	}
	if what == "" {
		what = host
	}
	e := &Error{Host: host, Ref: what, Err: err}
	var te *TimeoutError
	var le *LimitError
	status := errStatusCode(err)
	reason, unreachable := dialFailure(err)
	switch {
	case errors.As(err, &te):
		e.Kind, e.Host, e.msg = ErrTimeout, te.Host, te.Error()
	case unreachable:
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("cannot reach registry %s: %s", host, reason)
	case errors.As(err, &le):
		e.Kind, e.msg = ErrLimit, le.Error()
	case status == http.StatusUnauthorized || hasCode(err, errcode.ErrorCodeUnauthorized) ||
		errors.Is(err, auth.ErrBasicCredentialNotFound):
		e.Kind = ErrUnauthorized
	case status == http.StatusForbidden || hasCode(err, errcode.ErrorCodeDenied):
		e.Kind = ErrDenied
	case status == http.StatusNotFound || errors.Is(err, errdef.ErrNotFound) ||
		hasCode(err, errcode.ErrorCodeNameUnknown) || hasCode(err, errcode.ErrorCodeManifestUnknown) ||
		hasCode(err, errcode.ErrorCodeBlobUnknown):
		e.Kind = ErrNotFound
	case isCertError(err):
		e.Kind = ErrCertificate
	case errors.Is(err, http.ErrSchemeMismatch):
		e.Kind = ErrPlainHTTPServer
	default:
		return err
	}
	return e
}

// dialFailure says why no connection could be made ("connection refused",
// "no such host"), when that is what err is.
func dialFailure(err error) (string, bool) {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "no such host", true
		}
		return dns.Err, true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || op.Err == nil {
		return "", false
	}
	var se *os.SyscallError
	if errors.As(op.Err, &se) {
		return se.Err.Error(), true
	}
	return op.Err.Error(), true
}

func hasCode(err error, code string) bool {
	var e errcode.Error
	if errors.As(err, &e) && e.Code == code {
		return true
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		for _, e := range resp.Errors {
			if e.Code == code {
				return true
			}
		}
	}
	return false
}

func isCertError(err error) bool { return tlsconf.IsCertError(err) }

// errStatusCode returns the HTTP status of a registry error response in err's
// chain, or 0.
func errStatusCode(err error) int {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode
	}
	return 0
}

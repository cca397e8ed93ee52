package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ecc-bpf/ecc/internal/tlsconf"
	"github.com/ecc-bpf/ecc/registry/store"
)

// Sentinel errors. Errors returned by this package (and by the targets it
// opens) wrap one of these when the cause is known.
var (
	// ErrUnauthorized: the registry wants credentials, rejected the ones
	// sent (HTTP 401), or denied the operation to them (HTTP 403).
	ErrUnauthorized = errors.New("unauthorized")
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
	// ErrLimit: content over a limit of Limits.
	ErrLimit = errors.New("over a limit")
)

// classifiedError is a failure filed under a sentinel error (or none) with a
// hint saying what to do. The original error stays in the chain.
type classifiedError struct {
	kind error  // ErrUnauthorized, ErrNotFound, or nil
	err  error  // the original error
	msg  string // replaces err's text when set
	hint string
}

func (e *classifiedError) Error() string {
	msg := e.msg
	if msg == "" {
		msg = e.err.Error()
	}
	if e.hint == "" {
		return msg
	}
	return msg + "; " + e.hint
}

func (e *classifiedError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// MapError files an error from an oras-go operation on ref under
// ErrUnauthorized or ErrNotFound when the cause is known and appends what
// to do (e.g. "run 'ecc login HOST'"). errors.Is still finds the original
// oras-go errors. Errors already mapped, and nil, are returned unchanged.
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
	var done *classifiedError
	if errors.As(err, &done) || errors.Is(err, ErrInvalidReference) {
		return err
	}
	if what == "" {
		what = host
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return &classifiedError{kind: ErrTimeout, err: err, msg: te.Error(),
			hint: fmt.Sprintf("check that %s is up and reachable; if it is only slow, raise --timeout", te.Host)}
	}
	var le *limitError
	if errors.As(err, &le) {
		return &classifiedError{kind: ErrLimit, err: err, msg: le.Error()}
	}
	status := errStatusCode(err)
	switch {
	case status == http.StatusUnauthorized || hasCode(err, errcode.ErrorCodeUnauthorized) ||
		errors.Is(err, auth.ErrBasicCredentialNotFound):
		return &classifiedError{kind: ErrUnauthorized, err: err,
			hint: fmt.Sprintf("%s wants credentials or rejected them: run 'ecc login %s'", host, host)}
	case status == http.StatusForbidden || hasCode(err, errcode.ErrorCodeDenied):
		return &classifiedError{kind: ErrUnauthorized, err: err,
			hint: fmt.Sprintf("access to %s denied: check that your account may use it, or run 'ecc login %s' as a user who can", what, host)}
	case status == http.StatusNotFound || errors.Is(err, errdef.ErrNotFound) ||
		hasCode(err, errcode.ErrorCodeNameUnknown) || hasCode(err, errcode.ErrorCodeManifestUnknown) ||
		hasCode(err, errcode.ErrorCodeBlobUnknown):
		return &classifiedError{kind: ErrNotFound, err: err,
			hint: fmt.Sprintf("check the name and tag of %s (ecc push creates it)", what)}
	case isCertError(err):
		return &classifiedError{err: err,
			hint: fmt.Sprintf("if %s uses a private certificate authority pass --ca-file FILE (or --insecure to skip verification)", host)}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &classifiedError{err: err,
			hint: fmt.Sprintf("%s speaks plain HTTP: pass --plain-http", host)}
	}
	return err
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

package commands

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/internal/tlsconf"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/section"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/sign"
	"github.com/ecc-bpf/ecc/registry/store"
	"github.com/ecc-bpf/ecc/runtime/loader"
)

// Advice is an error with the line that says what to do next ("run 'ecc
// login ghcr.io'"). Libraries return typed errors and leave that line out;
// a command adds it, either by returning an *Advice itself or through
// Advise, which main applies to every error. Exit prints Err, then Hint
// on a line of its own.
type Advice struct {
	Err  error
	Hint string
}

func (a *Advice) Error() string { return a.Err.Error() }
func (a *Advice) Unwrap() error { return a.Err }

// Advise returns err as an *Advice when it is a failure the user can fix
// with a command or a flag of prog (ecc or ecli): a registry that wants
// credentials, an untrusted certificate, a timeout, a limit, a name
// missing from the local store, a corrupted store. Other errors, and
// errors that already carry advice, are returned unchanged.
func Advise(prog string, err error) error {
	if err == nil {
		return nil
	}
	var a *Advice
	if errors.As(err, &a) {
		return err
	}
	if hint := hintFor(prog, err); hint != "" {
		return &Advice{Err: err, Hint: hint}
	}
	return err
}

// hintFor is the advice line for the errors of the libraries.
func hintFor(prog string, err error) string {
	var re *registry.Error
	isReg := errors.As(err, &re)
	host := "the server"
	if isReg && re.Host != "" {
		host = re.Host
	}
	var le *registry.LimitError
	var ee *registry.ExistsError
	var ae *packager.ArchError
	switch {
	case errors.As(err, &ee):
		return "pass --force to overwrite it, or -o DIR to pull into another folder"
	case errors.As(err, &ae):
		return fmt.Sprintf("rebuild it with ecc build --arch %s (or --arch %s,%s for both)", ae.Host, ae.Arch, ae.Host)
	case errors.Is(err, loader.ErrPermission):
		return "run it with sudo"
	case errors.Is(err, section.ErrUnknown):
		return "fix the SEC(\"...\") name in the source (docs/guide.md, Attaching, lists the names ecli attaches), or start it with ? if other user space attaches the program"
	case errors.Is(err, sign.ErrUnsigned):
		return "sign it with 'ecc sign --key KEY REF' (the publisher's key), or run a package that is signed"
	case errors.Is(err, sign.ErrNotVerified):
		return "check that the public key is the signer's; a package pushed again over a tag needs signing again"
	case errors.Is(err, sign.ErrPasswordNeeded):
		return "set COSIGN_PASSWORD to the key's password"
	case errors.Is(err, store.ErrNotInStore):
		return fmt.Sprintf("run '%s images' to list the local store", prog)
	case errors.Is(err, packager.ErrMismatch):
		return "rebuild it with ecc build, or ask its author"
	case errors.Is(err, store.ErrCorrupted):
		return fmt.Sprintf("remove the image with '%s images rm REF' and pull it again", prog)
	case errors.As(err, &le):
		flag := map[string]string{"MaxBytes": "--max-bytes SIZE", "MaxManifests": "--max-manifests N"}[le.Limit]
		if flag == "" {
			return ""
		}
		return "if you trust the source, raise the limit with " + flag
	case tlsconf.IsCertError(err):
		return fmt.Sprintf("if %s uses a private certificate authority pass --ca-file FILE (or --insecure to skip verification)", host)
	case !isReg:
		return ""
	case errors.Is(err, registry.ErrWrongCredentials):
		if re.Host == "ghcr.io" {
			return "the password must be a GitHub token with the read:packages (and write:packages to push) scope"
		}
		return ""
	case errors.Is(err, registry.ErrDenied):
		return fmt.Sprintf("access to %s denied: check that your account may use it, or run '%s login %s' as a user who can", re.Ref, prog, re.Host)
	case errors.Is(err, registry.ErrUnauthorized):
		return fmt.Sprintf("%s wants credentials or rejected them: run '%s login %s'", re.Host, prog, re.Host)
	case errors.Is(err, registry.ErrTimeout):
		return fmt.Sprintf("check that %s is up and reachable; if it is only slow, raise --timeout", re.Host)
	case errors.Is(err, registry.ErrNotFound):
		return fmt.Sprintf("check the name and tag of %s (ecc push creates it)", re.Ref)
	case errors.Is(err, registry.ErrUnreachable):
		return "is the registry running? check the address and port"
	case errors.Is(err, registry.ErrPlainHTTPServer):
		return fmt.Sprintf("%s speaks plain HTTP: pass --plain-http", re.Host)
	}
	return ""
}

// Exit prints err for prog as both mains do and returns the exit status:
// "prog: MESSAGE" (control characters made visible: messages quote names
// from packages), then "prog: hint: ADVICE" when Advise finds some, and
// returns 1. A *UsageError is printed as "COMMAND: MESSAGE" and returns 2.
// A cli.ExitCoder with no message only sets the status.
func Exit(stderr io.Writer, prog string, err error) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.Error() == "" {
		return ec.ExitCode()
	}
	status, who := 1, prog
	var ue *UsageError
	if errors.As(err, &ue) {
		status, who = 2, ue.Command
	}
	fmt.Fprintf(stderr, "%s: %s\n", who, termsafe.Text(err.Error()))
	var a *Advice
	if errors.As(Advise(prog, err), &a) && a.Hint != "" {
		fmt.Fprintf(stderr, "%s: hint: %s\n", prog, termsafe.Text(a.Hint))
	}
	return status
}

package commands

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/store"
)

func TestExit(t *testing.T) {
	ref, err := registry.ParseReference("127.0.0.1:5000/probes/x:v1")
	if err != nil {
		t.Fatal(err)
	}
	// A missing manifest as oras-go reports it, mapped by the registry package.
	notFound := registry.MapError(fmt.Errorf("GET /v2/: %w", registry.ErrNotFound), ref)
	var re *registry.Error
	if !errors.As(notFound, &re) {
		t.Fatalf("MapError: %#v is not a *registry.Error", notFound)
	}
	for _, c := range []struct {
		name   string
		prog   string
		err    error
		want   string
		status int
	}{
		{"nil", "ecc", nil, "", 0},
		{"plain", "ecc", errors.New("build x.bpf.c: no such file"), "ecc: build x.bpf.c: no such file\n", 1},
		{"control characters", "ecli", errors.New("program \x1b[31mred"), "ecli: program \\x1b[31mred\n", 1},
		{"advice", "ecc", &Advice{Err: errors.New("it failed"), Hint: "do this"}, "ecc: it failed\necc: hint: do this\n", 1},
		{"wrapped advice", "ecc", fmt.Errorf("push: %w", &Advice{Err: errors.New("it failed"), Hint: "do this"}), "ecc: push: it failed\necc: hint: do this\n", 1},
		{"not found", "ecc", fmt.Errorf("pull %s: %w", ref, notFound),
			"ecc: pull 127.0.0.1:5000/probes/x:v1: GET /v2/: not found\necc: hint: check the name and tag of 127.0.0.1:5000/probes/x:v1 (ecc push creates it)\n", 1},
		{"unauthorized", "ecli", &registry.Error{Kind: registry.ErrUnauthorized, Host: "ghcr.io", Ref: "ghcr.io/o/p:v1", Err: errors.New("401")},
			"ecli: 401\necli: hint: ghcr.io wants credentials or rejected them: run 'ecli login ghcr.io'\n", 1},
		{"denied", "ecc", &registry.Error{Kind: registry.ErrDenied, Host: "ghcr.io", Ref: "ghcr.io/o/p:v1", Err: errors.New("403")},
			"ecc: 403\necc: hint: access to ghcr.io/o/p:v1 denied: check that your account may use it, or run 'ecc login ghcr.io' as a user who can\n", 1},
		{"wrong password on ghcr.io", "ecc", &registry.Error{Kind: registry.ErrWrongCredentials, Host: "ghcr.io", Ref: "ghcr.io", Err: errors.New("login to ghcr.io: wrong username or password")},
			"ecc: login to ghcr.io: wrong username or password\necc: hint: the password must be a GitHub token with the read:packages (and write:packages to push) scope\n", 1},
		{"wrong password elsewhere", "ecc", &registry.Error{Kind: registry.ErrWrongCredentials, Host: "r.example", Ref: "r.example", Err: errors.New("login to r.example: wrong username or password")},
			"ecc: login to r.example: wrong username or password\n", 1},
		{"not in store", "ecli", fmt.Errorf("x:v1: %w", store.ErrNotInStore), "ecli: x:v1: not in the local store\necli: hint: run 'ecli images' to list the local store\n", 1},
		{"limit", "ecc", &registry.LimitError{What: "the package is 2 MiB", Max: "1 MiB", Limit: "MaxBytes"},
			"ecc: the package is 2 MiB, more than the 1 MiB allowed\necc: hint: if you trust the source, raise the limit with --max-bytes SIZE\n", 1},
		{"unreachable", "ecc", fmt.Errorf("push 127.0.0.1:5000/p:v1: %w", &registry.Error{Kind: registry.ErrUnreachable, Host: "127.0.0.1:5000", Ref: "127.0.0.1:5000/p:v1", Err: errors.New("cannot reach registry 127.0.0.1:5000: connection refused")}),
			"ecc: push 127.0.0.1:5000/p:v1: cannot reach registry 127.0.0.1:5000: connection refused\necc: hint: is the registry running? check the address and port\n", 1},
		{"file exists", "ecli", fmt.Errorf("pull x:v1: %w", &registry.ExistsError{Path: "x/package.json"}),
			"ecli: pull x:v1: x/package.json already exists\necli: hint: pass --force to overwrite it, or -o DIR to pull into another folder\n", 1},
		{"silent exit code", "ecc", cli.Exit("", 3), "", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if status := Exit(&b, c.prog, c.err); status != c.status || b.String() != c.want {
				t.Errorf("Exit = %d, %q; want %d, %q", status, b.String(), c.status, c.want)
			}
		})
	}
}

// Advise leaves errors without a known remedy, and errors already
// advised, as they are; what it wraps stays reachable.
func TestAdvise(t *testing.T) {
	plain := errors.New("x")
	if Advise("ecc", plain) != plain || Advise("ecc", nil) != nil {
		t.Error("Advise changed an error without advice")
	}
	a := &Advice{Err: plain, Hint: "h"}
	if Advise("ecc", a) != a {
		t.Error("Advise wrapped an *Advice again")
	}
	err := Advise("ecc", fmt.Errorf("pull: %w", store.ErrCorrupted))
	if !errors.Is(err, store.ErrCorrupted) || !errors.As(err, &a) || a.Hint != "remove the image with 'ecc images rm REF' and pull it again" {
		t.Errorf("Advise(corrupted) = %#v", err)
	}
}

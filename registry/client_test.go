package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/registry/registrytest"
)

const (
	testArtifactType = "application/vnd.ecc.test.v1"
	testLayerType    = "application/vnd.ecc.test.layer.v1"
)

// pushArtifact stores a manifest with one layer holding payload and tags it.
func pushArtifact(t *testing.T, target oras.Target, tag string, payload []byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, target, testLayerType, payload)
	if err != nil {
		t.Fatalf("push layer: %v", err)
	}
	man, err := oras.PackManifest(ctx, target, oras.PackManifestVersion1_1, testArtifactType, oras.PackManifestOptions{
		Layers:              []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2024-01-01T00:00:00Z"},
	})
	if err != nil {
		t.Fatalf("pack manifest: %v", err)
	}
	if err := target.Tag(ctx, man, tag); err != nil {
		t.Fatalf("tag %s: %v", tag, err)
	}
	return man
}

// fetchArtifact resolves reference and returns its layer's content.
func fetchArtifact(t *testing.T, target oras.ReadOnlyTarget, reference string) []byte {
	t.Helper()
	ctx := context.Background()
	desc, err := target.Resolve(ctx, reference)
	if err != nil {
		t.Fatalf("resolve %s: %v", reference, err)
	}
	data, err := content.FetchAll(ctx, target, desc)
	if err != nil {
		t.Fatalf("fetch manifest: %v", err)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	if man.ArtifactType != testArtifactType || len(man.Layers) != 1 {
		t.Fatalf("unexpected manifest %s", data)
	}
	layer, err := content.FetchAll(ctx, target, man.Layers[0])
	if err != nil {
		t.Fatalf("fetch layer: %v", err)
	}
	return layer
}

func mustParse(t *testing.T, s string) Reference {
	t.Helper()
	ref, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// isolate keeps the machine's docker config and credential helpers out.
func isolate(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("PATH", t.TempDir())
}

func TestRepositoryBasicAuth(t *testing.T) {
	isolate(t)
	srv := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "pw-basic"})
	ref := mustParse(t, srv.Host+"/probe:v1")
	var stderr bytes.Buffer
	opts := &Options{Username: "u", Password: "pw-basic", Stderr: &stderr}
	repo, err := NewRepository(context.Background(), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !repo.PlainHTTP || repo.Reference.Reference != "v1" || repo.Reference.Repository != "probe" {
		t.Errorf("repository = %+v (plain %v)", repo.Reference, repo.PlainHTTP)
	}
	payload := []byte("an eBPF object")
	pushArtifact(t, repo, "v1", payload)
	if got := fetchArtifact(t, repo, "v1"); !bytes.Equal(got, payload) {
		t.Errorf("fetched %q, want %q", got, payload)
	}
	var basic int
	for _, r := range srv.Requests() {
		if r.Auth == "basic" {
			basic++
		}
	}
	if basic == 0 {
		t.Errorf("no request carried basic auth: %v", srv.Requests())
	}

	// Anonymous (empty config): ErrUnauthorized with what to do.
	target, err := OpenTarget(context.Background(), ref, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	_, err = target.Resolve(context.Background(), "v1")
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("anonymous resolve: %v, want ErrUnauthorized", err)
	}
	wantError(t, err, ErrUnauthorized, srv.Host, ref.String())

	// Wrong password: the same, and the password is not in the message.
	bad, _ := OpenTarget(context.Background(), ref, &Options{Username: "u", Password: "not-the-pw"})
	defer bad.Close()
	_, err = bad.Resolve(context.Background(), "v1")
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "not-the-pw") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestRepositoryTokenAuth(t *testing.T) {
	isolate(t)
	srv := registrytest.NewServer(t, registrytest.ServerOptions{Username: "tok", Password: "pw-token", Token: true})
	cfg := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{
		Auths: map[string]registrytest.Auth{srv.Host: {Username: "tok", Password: "pw-token"}},
	})
	ref := mustParse(t, srv.Host+"/org/probe:v1")
	target, err := OpenTarget(context.Background(), ref, &Options{RegistryConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	payload := []byte("token-authenticated payload")
	pushArtifact(t, target, "v1", payload)
	if got := fetchArtifact(t, target, "v1"); !bytes.Equal(got, payload) {
		t.Errorf("fetched %q", got)
	}
	var tokens, bearer int
	for _, r := range srv.Requests() {
		switch {
		case r.Path == "/token" && r.Status == http.StatusOK:
			tokens++
		case r.Auth == "bearer" && r.Status < 300:
			bearer++
		}
	}
	if tokens == 0 || bearer == 0 {
		t.Errorf("token flow not used (tokens %d, bearer requests %d): %v", tokens, bearer, srv.Requests())
	}
	if tokens > 2 {
		t.Errorf("%d token requests: the token cache is not used: %v", tokens, srv.Requests())
	}
	scopes := strings.Join(srv.Scopes(), " ")
	if !strings.Contains(scopes, "repository:org/probe:pull,push") {
		t.Errorf("scopes asked = %q", scopes)
	}

	// Credentials the token endpoint rejects.
	bad, _ := OpenTarget(context.Background(), ref, &Options{Username: "tok", Password: "wrong-pw"})
	defer bad.Close()
	_, err = bad.Resolve(context.Background(), "v1")
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("rejected token request: %v", err)
	}
	wantError(t, err, ErrUnauthorized, srv.Host, ref.String())
}

func TestNotFound(t *testing.T) {
	isolate(t)
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustParse(t, srv.Host+"/probe:v1")
	target, err := OpenTarget(context.Background(), ref, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	_, err = target.Resolve(context.Background(), "missing")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("resolve missing tag: %v, want ErrNotFound", err)
	}
	wantError(t, err, ErrNotFound, srv.Host, srv.Host+"/probe:missing")
	// MapError on a raw oras-go error, and idempotence.
	repo, _ := NewRepository(context.Background(), ref, &Options{})
	_, rawErr := repo.Resolve(context.Background(), "v1")
	mapped := MapError(rawErr, ref)
	if !errors.Is(mapped, ErrNotFound) || MapError(mapped, ref) != mapped || MapError(nil, ref) != nil {
		t.Errorf("MapError(%v) = %v", rawErr, mapped)
	}
}

func TestPlainHTTPRules(t *testing.T) {
	for _, tt := range []struct {
		host string
		opts Options
		want bool
	}{
		{"127.0.0.1:5000", Options{}, true},
		{"localhost:5000", Options{}, true},
		{"[::1]:5000", Options{}, true},
		{"127.0.0.1:5000", Options{RequireTLS: true}, false},
		{"127.0.0.1:5000", Options{CAFile: "ca.pem"}, false},
		{"127.0.0.1:5000", Options{Insecure: true}, false},
		{"ghcr.io", Options{}, false},
		{"ghcr.io", Options{PlainHTTP: true}, true},
		{"10.1.2.3:5000", Options{}, false},
	} {
		opts := tt.opts
		if got := usePlainHTTP(tt.host, &opts); got != tt.want {
			t.Errorf("usePlainHTTP(%q, %+v) = %v, want %v", tt.host, tt.opts, got, tt.want)
		}
	}
}

func TestPlainHTTPNotice(t *testing.T) {
	isolate(t)
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustParse(t, srv.Host+"/probe:v1")
	var stderr bytes.Buffer
	// Two operations with their own Options, as ecli run REF and a
	// command that pushes then tags go through: one notice.
	for range 2 {
		target, err := OpenTarget(context.Background(), ref, &Options{Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		pushArtifact(t, target, "v1", []byte("x"))
		target.Close()
	}
	want := "notice: using plain HTTP for " + srv.Host + " (a loopback registry); pass --plain-http=false, --ca-file or --insecure to use HTTPS\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q once", stderr.String(), want)
	}
	// Explicit --plain-http prints nothing.
	stderr.Reset()
	NewRepository(context.Background(), ref, &Options{PlainHTTP: true, Stderr: &stderr})
	if stderr.Len() != 0 {
		t.Errorf("notice with --plain-http: %q", stderr.String())
	}
}

func TestTLS(t *testing.T) {
	isolate(t)
	srv := registrytest.NewServer(t, registrytest.ServerOptions{TLS: true})
	ref := mustParse(t, srv.Host+"/probe:v1")
	ctx := context.Background()

	t.Run("ca-file", func(t *testing.T) {
		var stderr bytes.Buffer
		repo, err := NewRepository(ctx, ref, &Options{CAFile: srv.CAFile(t), Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		if repo.PlainHTTP {
			t.Fatal("--ca-file on a loopback host still uses plain HTTP")
		}
		pushArtifact(t, repo, "v1", []byte("over TLS"))
		if got := fetchArtifact(t, repo, "v1"); string(got) != "over TLS" {
			t.Errorf("fetched %q", got)
		}
		if stderr.Len() != 0 {
			t.Errorf("notice: %q", stderr.String())
		}
	})
	t.Run("unknown-ca", func(t *testing.T) {
		target, err := OpenTarget(ctx, ref, &Options{RequireTLS: true})
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		_, err = target.Resolve(ctx, "v1")
		if err == nil {
			t.Fatal("TLS with an unknown CA succeeded")
		}
		if !strings.Contains(err.Error(), "x509") {
			t.Errorf("error = %q, want an x509 error", err)
		}
		wantError(t, err, ErrCertificate, ref.Registry, ref.Registry+"/probe:v1")
	})
	t.Run("insecure", func(t *testing.T) {
		repo, err := NewRepository(ctx, ref, &Options{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := fetchArtifact(t, repo, "v1"); string(got) != "over TLS" {
			t.Errorf("fetched %q", got)
		}
	})
	t.Run("bad-ca-file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "ca.pem")
		os.WriteFile(bad, []byte("not a certificate"), 0o644)
		_, err := NewRepository(ctx, ref, &Options{CAFile: bad})
		if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
			t.Errorf("bad --ca-file: %v", err)
		}
		_, err = NewRepository(ctx, ref, &Options{CAFile: bad + ".missing"})
		if err == nil || !strings.Contains(err.Error(), "read --ca-file") {
			t.Errorf("missing --ca-file: %v", err)
		}
	})
	t.Run("plain-http-to-tls-server", func(t *testing.T) {
		// An https registry addressed with plain HTTP fails rather than hangs.
		repo, _ := NewRepository(ctx, ref, &Options{PlainHTTP: true})
		if _, err := repo.Resolve(ctx, "v1"); err == nil {
			t.Error("plain HTTP to a TLS server succeeded")
		}
	})
	t.Run("tls-to-plain-http-server", func(t *testing.T) {
		// A plain HTTP registry addressed with HTTPS: ErrPlainHTTPServer.
		plain := registrytest.NewServer(t, registrytest.ServerOptions{})
		pref := mustParse(t, plain.Host+"/probe:v1")
		target, err := OpenTarget(ctx, pref, &Options{RequireTLS: true})
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		_, err = target.Resolve(ctx, "v1")
		wantError(t, err, ErrPlainHTTPServer, plain.Host, pref.String())
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wantError checks that err is an *Error of kind, naming host and ref:
// what a command line needs to say what to do next.
func wantError(t *testing.T, err error, kind error, host, ref string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, kind) || e.Host != host || e.Ref != ref {
		t.Errorf("error %v (%#v): want an *Error of kind %v for host %s, ref %s", err, e, kind, host, ref)
	}
}

// A registry that is not there (nothing listens on the port, or the name
// does not resolve) is ErrUnreachable, one line naming the host, for every
// operation.
func TestUnreachable(t *testing.T) {
	ctx := context.Background()
	host := closedPort(t)
	ref := mustParse(t, host+"/probes/x:v1")
	target, err := OpenTarget(ctx, ref, &Options{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	_, pushErr := Push(ctx, testPackages(t, 1), target, ref, &PushOptions{Retries: 1})
	_, pullErr := Pull(ctx, target, ref, openStore(t), &PullOptions{Retries: 1})
	loginErr := Login(ctx, host, "u", "p", &Options{RegistryConfig: filepath.Join(t.TempDir(), "config.json")})
	for op, err := range map[string]error{"push " + ref.String(): pushErr, "pull " + ref.String(): pullErr, "login to " + host: loginErr} {
		want := op + ": cannot reach registry " + host + ": connection refused"
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", op, err, want)
		}
		var e *Error
		if !errors.Is(err, ErrUnreachable) || !errors.As(err, &e) || e.Host != host {
			t.Errorf("%s: %v is not an ErrUnreachable *Error for %s", op, err, host)
		}
	}
	// A name that does not resolve.
	dns := &url.Error{Op: "Get", URL: "https://nope.invalid/v2/", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}}}
	err = MapError(dns, mustParse(t, "nope.invalid/probes/x:v1"))
	if !errors.Is(err, ErrUnreachable) || err.Error() != "cannot reach registry nope.invalid: no such host" {
		t.Errorf("DNS failure: %v", err)
	}
	// It is final: one attempt (a refused connection is tried again).
	tries := 0
	nope := mustParse(t, "nope.invalid/probes/x:v1")
	target, err = OpenTarget(ctx, nope, &Options{WrapTransport: func(http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(*http.Request) (*http.Response, error) { tries++; return nil, dns.Err })
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if _, err := Pull(ctx, target, nope, openStore(t), nil); !errors.Is(err, ErrUnreachable) || tries != 1 {
		t.Errorf("pull from a name that does not resolve: %v after %d tries, want 1", err, tries)
	}
}

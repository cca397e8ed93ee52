package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ecc-bpf/ecc/internal/tlsconf"
)

// Options configures every registry operation. The CLI fills it from its
// flags and the environment; the zero value (or nil) is valid.
type Options struct {
	// RegistryConfig is a docker config.json to read credentials from and
	// store them in (--registry-config). Empty: $DOCKER_CONFIG/config.json,
	// else ~/.docker/config.json.
	RegistryConfig string
	// Username and Password, when set, are used for the reference's registry
	// instead of the config file (-u with --password-stdin, or
	// CredentialsFromEnv). For ghcr.io the password may be a GitHub token
	// (GITHUB_TOKEN or a personal access token with packages scope) and the
	// username any non-empty name: it is ordinary basic auth that the
	// registry exchanges for a bearer token.
	Username, Password string
	// CAFile is a PEM file of extra certificate authorities trusted besides
	// the system pool (--ca-file).
	CAFile string
	// PlainHTTP talks HTTP instead of HTTPS (--plain-http). Loopback hosts
	// use plain HTTP even without it unless RequireTLS, CAFile or Insecure is
	// set.
	PlainHTTP bool
	// RequireTLS forbids the automatic plain HTTP for loopback hosts
	// (--plain-http=false given explicitly).
	RequireTLS bool
	// Insecure skips TLS certificate verification (--insecure).
	Insecure bool
	// Stderr receives one-line notices ("notice: ..."); nil discards them.
	Stderr io.Writer
	// UserAgent is sent with every request; empty means "ecc/VERSION" with
	// the version of the running binary's module.
	UserAgent string
	// WrapTransport, when set, wraps the HTTP transport below the auth
	// layer, so it sees every request, token requests and those of retries
	// included (tests and benchmarks count requests with it).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Timeout is how long a registry may take to accept a connection, to
	// send response headers, or to move another 1 KiB of a transfer
	// (--timeout); errors then wrap ErrTimeout and name the host. 0 means
	// DefaultTimeout, a negative value no timeout.
	Timeout time.Duration
	// Limits bound what pulls accept (--max-bytes, --max-manifests) and
	// what an oci-archive: may unpack to. Zero fields mean the defaults.
	Limits Limits
}

// timeout is the effective Timeout (0: none).
func (o *Options) timeout() time.Duration {
	switch {
	case o.Timeout == 0:
		return DefaultTimeout
	case o.Timeout < 0:
		return 0
	}
	return o.Timeout
}

func (o *Options) orDefault() *Options {
	if o == nil {
		return &Options{}
	}
	return o
}

func (o *Options) notice(format string, args ...any) {
	if o.Stderr != nil {
		fmt.Fprintf(o.Stderr, "notice: "+format+"\n", args...)
	}
}

// registryClient is an oras-go auth client and what NewRepository needs beside it.
type registryClient struct {
	auth      *auth.Client
	transport *http.Transport
	plainHTTP bool
}

func (c *registryClient) close() { c.transport.CloseIdleConnections() }

// newRegistryClient builds the HTTP stack for one registry host:
// auth.Client (token cache, credentials, User-Agent) → opts.WrapTransport →
// progressTransport (upload progress) → timeoutTransport → http.Transport (TLS verified, --ca-file, --insecure).
// Nothing here retries: Push, Pull and Login do (retry.go), once, for
// the whole operation.
func newRegistryClient(host string, opts *Options) (*registryClient, error) {
	tlsCfg, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	timeout := opts.timeout()
	if timeout > 0 {
		// The dialer's own timeout only backs up timeoutTransport's.
		d := &net.Dialer{Timeout: max(timeout+5*time.Second, 30*time.Second), KeepAlive: 30 * time.Second}
		tr.DialContext = d.DialContext
		tr.TLSHandshakeTimeout = max(timeout, 10*time.Second)
	}
	var rt http.RoundTripper = progressTransport{newTimeoutTransport(tr, timeout, host)}
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(rt)
	}
	cred, err := credentialFunc(credentialHost(host), opts)
	if err != nil {
		return nil, err
	}
	ac := &auth.Client{
		Client:     &http.Client{Transport: rt},
		Cache:      auth.NewCache(),
		Credential: cred,
		ClientID:   "ecc",
	}
	ac.SetUserAgent(userAgent(opts))
	return &registryClient{auth: ac, transport: tr, plainHTTP: usePlainHTTP(host, opts)}, nil
}

func tlsConfig(opts *Options) (*tls.Config, error) {
	return tlsconf.Config(opts.CAFile, opts.Insecure)
}

// noticed remembers the hosts already told about plain HTTP, per notice
// writer: a process that talks to a loopback registry says so once, however
// many operations (and Options) it goes through.
var noticed sync.Map

// usePlainHTTP decides the scheme: PlainHTTP forces HTTP; RequireTLS, CAFile
// or Insecure force HTTPS; otherwise loopback hosts get HTTP (with a notice)
// and every other host HTTPS.
func usePlainHTTP(host string, opts *Options) bool {
	switch {
	case opts.PlainHTTP:
		return true
	case opts.RequireTLS || opts.CAFile != "" || opts.Insecure:
		return false
	case !isLoopback(host):
		return false
	}
	type key struct {
		to   any
		host string
	}
	k := key{opts, host}
	if opts.Stderr != nil && reflect.TypeOf(opts.Stderr).Comparable() {
		k.to = opts.Stderr
	}
	if _, dup := noticed.LoadOrStore(k, true); !dup {
		opts.notice("using plain HTTP for %s (a loopback registry); pass --plain-http=false, --ca-file or --insecure to use HTTPS", host)
	}
	return true
}

func userAgent(opts *Options) string {
	if opts.UserAgent != "" {
		return opts.UserAgent
	}
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	return "ecc/" + version
}

// NewRepository returns an oras-go client for the repository of a registry
// reference, authenticated as described in the package documentation.
// Its Reference.Reference is ref.TagOrDigest(). Errors of its methods are
// oras-go's; MapError classifies them.
func NewRepository(ctx context.Context, ref Reference, opts *Options) (*remote.Repository, error) {
	repo, _, err := newRepository(ref, opts.orDefault())
	return repo, err
}

func newRepository(ref Reference, opts *Options) (*remote.Repository, *registryClient, error) {
	if ref.Kind != Remote {
		return nil, nil, fmt.Errorf("%s is not a registry reference", ref)
	}
	c, err := newRegistryClient(ref.Registry, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	repo := &remote.Repository{
		Client: c.auth,
		Reference: orasregistry.Reference{
			Registry:   ref.Registry,
			Repository: ref.Repository,
			Reference:  ref.TagOrDigest(),
		},
		PlainHTTP: c.plainHTTP,
	}
	return repo, c, nil
}

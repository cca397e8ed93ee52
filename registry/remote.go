package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/ecc-bpf/ecc/internal/tlsconf"
)

// ---- HTTP clients ----

// registryClient is an oras-go auth client and what NewRepository needs beside it.
type registryClient struct {
	auth      *auth.Client
	transport *http.Transport
	plainHTTP bool
}

func (c *registryClient) close() { c.transport.CloseIdleConnections() }

// newRegistryClient builds the HTTP stack for one registry host:
// auth.Client (token cache, credentials, User-Agent) → retry transport →
// opts.WrapTransport → http.Transport (TLS verified, --ca-file, --insecure).
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
	var rt http.RoundTripper = newTimeoutTransport(tr, timeout, host)
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(rt)
	}
	cred, err := credentialFunc(credentialHost(host), opts)
	if err != nil {
		return nil, err
	}
	ac := &auth.Client{
		Client:     &http.Client{Transport: retry.NewTransport(rt)},
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

// noticed remembers (options, host) pairs already told about plain HTTP, so
// one command prints the notice once.
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
		opts *Options
		host string
	}
	if _, dup := noticed.LoadOrStore(key{opts, host}, true); !dup {
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

// ---- error classification ----

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

// ---- targets ----

// Target is where packages are pushed to or pulled from: a registry
// repository, an OCI layout folder or an OCI layout archive. Close it when
// done: for oci-archive targets Close writes the archive.
type Target interface {
	oras.GraphTarget
	io.Closer
}

// OpenTarget opens the target of ref for reading and writing; see the
// package documentation for the semantics of each kind. Errors of the
// target's methods are classified as MapError does.
func OpenTarget(ctx context.Context, ref Reference, opts *Options) (Target, error) {
	opts = opts.orDefault()
	switch ref.Kind {
	case Remote:
		repo, c, err := newRepository(ref, opts)
		if err != nil {
			return nil, err
		}
		return &remoteTarget{Repository: repo, ref: ref, client: c, lim: opts.Limits}, nil
	case OCILayout:
		t, err := openLayout(ctx, ref)
		if err != nil {
			return nil, err
		}
		t.lim = opts.Limits
		return t, nil
	case OCIArchive:
		return openArchive(ctx, ref, opts.Limits.orDefault())
	}
	return nil, fmt.Errorf("%s: unknown reference kind %v", ref, ref.Kind)
}

var (
	_ Target                        = (*remoteTarget)(nil)
	_ orasregistry.ReferencePusher  = (*remoteTarget)(nil)
	_ orasregistry.ReferenceFetcher = (*remoteTarget)(nil)
	_ orasregistry.Mounter          = (*remoteTarget)(nil)
	_ orasregistry.TagLister        = (*remoteTarget)(nil)
	_ orasregistry.ReferrerLister   = (*remoteTarget)(nil)
	_ Target                        = (*layoutTarget)(nil)
	_ orasregistry.TagLister        = (*layoutTarget)(nil)
)

// remoteTarget is a remote.Repository whose errors are classified. The
// embedded repository keeps its optional interfaces (ReferencePusher,
// ReferenceFetcher, Mounter, TagLister, ReferrerLister) for oras.Copy.
type remoteTarget struct {
	*remote.Repository
	ref    Reference
	client *registryClient
	lim    Limits
}

func (t *remoteTarget) limits() Limits { return t.lim }

func (t *remoteTarget) mapErr(err error) error { return MapError(err, t.ref) }

// mapRefErr classifies an error of an operation on reference (a tag or
// digest of the target's repository), naming that reference in the hint.
func (t *remoteTarget) mapRefErr(err error, reference string) error {
	return MapError(err, withReference(t.ref, reference))
}

// withReference returns ref naming reference (a tag or a digest) instead.
func withReference(ref Reference, reference string) Reference {
	if reference == "" {
		return ref
	}
	ref.Tag, ref.Digest = reference, ""
	if d, err := digest.Parse(reference); err == nil {
		ref.Tag, ref.Digest = "", d.String()
	}
	return ref
}

func (t *remoteTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := t.Repository.Fetch(ctx, desc)
	return rc, t.mapErr(err)
}

func (t *remoteTarget) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	return t.mapErr(t.Repository.Push(ctx, desc, r))
}

func (t *remoteTarget) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	ok, err := t.Repository.Exists(ctx, desc)
	return ok, t.mapErr(err)
}

func (t *remoteTarget) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	desc, err := t.Repository.Resolve(ctx, reference)
	return desc, t.mapRefErr(err, reference)
}

func (t *remoteTarget) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	return t.mapRefErr(t.Repository.Tag(ctx, desc, reference), reference)
}

func (t *remoteTarget) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	descs, err := t.Repository.Predecessors(ctx, node)
	return descs, t.mapErr(err)
}

func (t *remoteTarget) FetchReference(ctx context.Context, reference string) (ocispec.Descriptor, io.ReadCloser, error) {
	desc, rc, err := t.Repository.FetchReference(ctx, reference)
	return desc, rc, t.mapRefErr(err, reference)
}

func (t *remoteTarget) PushReference(ctx context.Context, desc ocispec.Descriptor, r io.Reader, reference string) error {
	return t.mapRefErr(t.Repository.PushReference(ctx, desc, r, reference), reference)
}

// Close drops idle connections.
func (t *remoteTarget) Close() error {
	t.client.close()
	return nil
}

// layoutTarget serves oci:DIR and oci-archive:FILE. The oras-go store is
// created lazily on the first write, so reading a missing layout creates
// nothing.
type layoutTarget struct {
	ref  Reference
	root string // the layout folder (a private temp folder for archives)

	mu     sync.Mutex
	store  *oci.Store
	dirty  bool // a manifest was stored or a tag set
	closed bool

	archive string // OCIArchive: the tar file to write on Close
	lim     Limits
}

func (t *layoutTarget) limits() Limits { return t.lim }

func openLayout(ctx context.Context, ref Reference) (*layoutTarget, error) {
	t := &layoutTarget{ref: ref, root: ref.Path}
	fi, err := os.Stat(ref.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return t, nil
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", ref, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open %s: %s is not a folder (for a tar file use oci-archive:%s)", ref, ref.Path, ref.Path)
	}
	if _, err := os.Stat(filepath.Join(ref.Path, ocispec.ImageLayoutFile)); err != nil {
		entries, rerr := os.ReadDir(ref.Path)
		if rerr != nil {
			return nil, fmt.Errorf("open %s: %w", ref, rerr)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("open %s: %s is not an OCI image layout (it has no %s file) and is not empty; name a new or empty folder",
				ref, ref.Path, ocispec.ImageLayoutFile)
		}
		return t, nil
	}
	if err := t.open(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func openArchive(ctx context.Context, ref Reference, lim Limits) (*layoutTarget, error) {
	tmp, err := os.MkdirTemp("", "ecc-oci-archive-")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	t := &layoutTarget{ref: ref, root: tmp, archive: ref.Path, lim: lim}
	f, err := os.Open(ref.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err == nil {
		err = extractTar(f, tmp, lim.MaxBytes)
		f.Close()
	}
	if err == nil {
		if _, serr := os.Stat(filepath.Join(tmp, ocispec.ImageLayoutFile)); serr != nil {
			err = fmt.Errorf("%s is not an OCI image layout archive (it has no %s file)", ref.Path, ocispec.ImageLayoutFile)
		}
	}
	if err == nil {
		err = t.open(ctx)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	return t, nil
}

// open opens (or creates) the oras-go store; t.mu must be held or t unshared.
func (t *layoutTarget) open(ctx context.Context) error {
	s, err := oci.NewWithContext(ctx, t.root)
	if err != nil {
		return fmt.Errorf("open %s: %w", t.ref, err)
	}
	t.store = s
	return nil
}

// get returns the store, or nil while the layout does not exist.
func (t *layoutTarget) get() (*oci.Store, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%s: target is closed", t.ref)
	}
	return t.store, nil
}

// writable returns the store, creating the layout if needed.
func (t *layoutTarget) writable(ctx context.Context) (*oci.Store, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%s: target is closed", t.ref)
	}
	if t.store == nil {
		if err := t.open(ctx); err != nil {
			return nil, err
		}
	}
	return t.store, nil
}

func (t *layoutTarget) changed() {
	t.mu.Lock()
	t.dirty = true
	t.mu.Unlock()
}

func (t *layoutTarget) mapErr(err error) error { return MapError(err, t.ref) }

func (t *layoutTarget) notFound(what string) error {
	return t.mapErr(fmt.Errorf("%s: %w", what, errdef.ErrNotFound))
}

func (t *layoutTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	s, err := t.get()
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, t.notFound(desc.Digest.String())
	}
	rc, err := s.Fetch(ctx, desc)
	return rc, t.mapErr(err)
}

func (t *layoutTarget) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	s, err := t.get()
	if err != nil || s == nil {
		return false, err
	}
	ok, err := s.Exists(ctx, desc)
	return ok, t.mapErr(err)
}

func (t *layoutTarget) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	s, err := t.writable(ctx)
	if err != nil {
		return err
	}
	if err := s.Push(ctx, desc, r); err != nil {
		return t.mapErr(err)
	}
	if isManifestType(desc.MediaType) {
		t.changed()
	}
	return nil
}

func (t *layoutTarget) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	s, err := t.get()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	ref := withReference(t.ref, reference)
	if s == nil {
		return ocispec.Descriptor{}, MapError(fmt.Errorf("%s: %w", reference, errdef.ErrNotFound), ref)
	}
	desc, err := s.Resolve(ctx, reference)
	return desc, MapError(err, ref)
}

func (t *layoutTarget) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	s, err := t.writable(ctx)
	if err != nil {
		return err
	}
	if err := s.Tag(ctx, desc, reference); err != nil {
		return MapError(err, withReference(t.ref, reference))
	}
	t.changed()
	return nil
}

func (t *layoutTarget) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	s, err := t.get()
	if err != nil || s == nil {
		return nil, err
	}
	descs, err := s.Predecessors(ctx, node)
	return descs, t.mapErr(err)
}

// Tags lists the tags of the layout (registry.TagLister).
func (t *layoutTarget) Tags(ctx context.Context, last string, fn func(tags []string) error) error {
	s, err := t.get()
	if err != nil || s == nil {
		return err
	}
	return s.Tags(ctx, last, fn)
}

// Close releases the target. For an oci-archive target that stored a
// manifest or set a tag it first writes the archive (temp file + rename);
// the private extraction folder is always removed.
func (t *layoutTarget) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.archive == "" {
		return nil
	}
	defer os.RemoveAll(t.root)
	if !t.dirty {
		return nil
	}
	if err := writeArchive(t.root, t.archive); err != nil {
		return fmt.Errorf("write %s: %w", t.ref, err)
	}
	return nil
}

func isManifestType(mediaType string) bool {
	switch mediaType {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json":
		return true
	}
	return false
}

// ---- tar ----

// extractTar unpacks a (possibly gzip-compressed) tar of an OCI layout into
// dir, through an os.Root so that nothing lands outside it. Only folders and
// regular files are accepted, under relative names without ".." (checked,
// not cleaned), at most MaxArchiveEntries of them holding at most maxBytes
// in all: a small compressed archive cannot fill the disk.
func extractTar(r io.Reader, dir string, maxBytes int64) error {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var total int64
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if entries >= MaxArchiveEntries {
			return fmt.Errorf("the archive holds more than %d entries, more than an OCI layout of packages needs", MaxArchiveEntries)
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if hdr.Size < 0 || hdr.Size > maxBytes-total {
				return &limitError{what: fmt.Sprintf("the archive unpacks to more than %s (at %q)", HumanSize(maxBytes), hdr.Name),
					max: HumanSize(maxBytes), flag: "--max-bytes SIZE"}
			}
			total += hdr.Size
			if d := path.Dir(name); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("extract %q: %w", hdr.Name, err)
				}
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
			_, err = io.Copy(f, io.LimitReader(tr, hdr.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
		case tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("tar entry %q is not a file or folder", hdr.Name)
		}
	}
}

// archiveName checks the name of a tar entry: relative, slash-separated,
// no "..", NUL, backslash or control characters. "./x" and "x/" are
// accepted as "x"; "" means the archive's top folder.
func archiveName(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	if n == "" || n == "." || n == "./" {
		return "", nil
	}
	n = strings.TrimSuffix(n, "/")
	bad := n == "" || strings.HasPrefix(n, "/") || len(n) > 1024
	for _, part := range strings.Split(n, "/") {
		if part == "" || part == "." || part == ".." {
			bad = true
		}
	}
	for _, c := range n {
		if c < 0x20 || c == 0x7f || c == '\\' {
			bad = true
		}
	}
	if bad {
		return "", fmt.Errorf("tar entry %q leaves the archive or is not a plain relative path", name)
	}
	return n, nil
}

// writeArchive tars the layout in dir (oci-layout, index.json, blobs/…, in
// that order, with fixed owners and timestamps) into a temporary file next
// to file and renames it over file.
func writeArchive(dir, file string) (err error) {
	parent := filepath.Dir(file)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(parent, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	epoch := time.Unix(0, 0)
	add := func(rel string, d fs.DirEntry) error {
		hdr := &tar.Header{Name: rel, ModTime: epoch}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, rel+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		if !d.Type().IsRegular() {
			return nil // ingest leftovers and the like are not part of a layout
		}
		src, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		defer src.Close()
		fi, err := src.Stat()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	}
	for _, name := range []string{ocispec.ImageLayoutFile, ocispec.ImageIndexFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := add(name, fs.FileInfoToDirEntry(fi)); err != nil {
			return err
		}
	}
	err = filepath.WalkDir(filepath.Join(dir, ocispec.ImageBlobsDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return add(filepath.ToSlash(rel), d)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}

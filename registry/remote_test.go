package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ecc-bpf/ecc/registry/registrytest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
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
	if want := "run 'ecc login " + srv.Host + "'"; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %q does not end with %q", err, want)
	}

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
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "wrong-pw") ||
		!strings.HasSuffix(err.Error(), "run 'ecc login "+srv.Host+"'") {
		t.Errorf("rejected token request: %v", err)
	}
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
	if want := "check the name and tag of " + srv.Host + "/probe:missing (ecc push creates it)"; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %q does not end with %q", err, want)
	}
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
	opts := &Options{Stderr: &stderr}
	for range 2 {
		target, err := OpenTarget(context.Background(), ref, opts)
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
		if !strings.Contains(err.Error(), "x509") || !strings.Contains(err.Error(), "--ca-file") {
			t.Errorf("error = %q, want an x509 error mentioning --ca-file", err)
		}
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
}

func TestRetryAndRequestCounting(t *testing.T) {
	isolate(t)
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	proxy := registrytest.NewFaultyProxy(t, srv.URL)
	ref := mustParse(t, proxy.Host+"/probe:v1")
	counter := &registrytest.Counter{}
	var mu sync.Mutex
	agents := map[string]bool{}
	wrap := func(rt http.RoundTripper) http.RoundTripper {
		return counter.Wrap(roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			agents[r.Header.Get("User-Agent")] = true
			mu.Unlock()
			return rt.RoundTrip(r)
		}))
	}
	repo, err := NewRepository(context.Background(), ref, &Options{WrapTransport: wrap, UserAgent: "ecc/test-1"})
	if err != nil {
		t.Fatal(err)
	}
	proxy.FailNext(`/manifests/`)
	proxy.FailNext(`/blobs/sha256:`)
	pushArtifact(t, repo, "v1", []byte("retried"))
	if got := fetchArtifact(t, repo, "v1"); string(got) != "retried" {
		t.Errorf("fetched %q", got)
	}
	if proxy.Faults() != 2 {
		t.Errorf("faults injected = %d, want 2", proxy.Faults())
	}
	if counter.Count() != proxy.Count() || srv.Count() != proxy.Count()-2 {
		t.Errorf("counter %d, proxy %d, server %d: want counter == proxy == server+2",
			counter.Count(), proxy.Count(), srv.Count())
	}
	if len(agents) != 1 || !agents["ecc/test-1"] {
		t.Errorf("User-Agent headers = %v", agents)
	}
	if ua := userAgent(&Options{}); !strings.HasPrefix(ua, "ecc/") {
		t.Errorf("default User-Agent = %q", ua)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOCILayoutTarget(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "layout")
	ref := mustParse(t, "oci:"+dir+":v1")

	// Reading a missing layout: not found, and nothing is created.
	target, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Resolve(ctx, "v1"); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "check the name and tag of oci:"+dir+":v1") {
		t.Errorf("resolve in a missing layout: %v", err)
	}
	if ok, err := target.Exists(ctx, ocispec.Descriptor{Digest: testDigest, Size: 1}); ok || err != nil {
		t.Errorf("Exists in a missing layout = %v, %v", ok, err)
	}
	target.Close()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("reading created %s", dir)
	}

	// Copy an artifact in, then read it back from a new target.
	src := memory.New()
	pushArtifact(t, src, "v1", []byte("layout payload"))
	target, _ = OpenTarget(ctx, ref, nil)
	if _, err := oras.Copy(ctx, src, "v1", target, ref.TagOrDigest(), oras.DefaultCopyOptions); err != nil {
		t.Fatalf("copy into %s: %v", ref, err)
	}
	target.Close()
	for _, f := range []string{"oci-layout", "index.json", "blobs/sha256"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("layout lacks %s: %v", f, err)
		}
	}
	target, _ = OpenTarget(ctx, ref, nil)
	defer target.Close()
	if got := fetchArtifact(t, target, "v1"); string(got) != "layout payload" {
		t.Errorf("fetched %q", got)
	}

	// Folders that are not layouts are refused, not converted.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644)
	if _, err := OpenTarget(ctx, mustParse(t, "oci:"+other), nil); err == nil ||
		!strings.Contains(err.Error(), "is not an OCI image layout") {
		t.Errorf("non-layout folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "oci-layout")); err == nil {
		t.Error("a non-layout folder was turned into a layout")
	}
	if _, err := OpenTarget(ctx, mustParse(t, "oci:"+filepath.Join(other, "notes.txt")), nil); err == nil ||
		!strings.Contains(err.Error(), "is not a folder (for a tar file use oci-archive:") {
		t.Errorf("file as layout: %v", err)
	}
}

func tarNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.ModTime.Unix() != 0 || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" {
			t.Errorf("%s: entry %s has owner %d/%d %q, time %v: want fixed values", file, hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.ModTime)
		}
		names = append(names, hdr.Name)
	}
}

func TestOCIArchiveTarget(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // extraction folders land here; all must go
	outDir := t.TempDir()
	file := filepath.Join(outDir, "sub", "probe.tar")
	ref := mustParse(t, "oci-archive:"+file+":v1")

	// Reading a missing archive: not found, nothing written.
	target, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Resolve(ctx, "v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve in a missing archive: %v", err)
	}
	if err := target.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("reading created the archive")
	}

	// A session that only stores blobs (a failed push) writes nothing.
	target, _ = OpenTarget(ctx, ref, nil)
	if _, err := oras.PushBytes(ctx, target, testLayerType, []byte("orphan")); err != nil {
		t.Fatal(err)
	}
	target.Close()
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a session without a manifest wrote the archive")
	}

	// Write: the archive appears at Close, atomically, in layout order.
	src := memory.New()
	pushArtifact(t, src, "v1", []byte("archived payload"))
	target, _ = OpenTarget(ctx, ref, nil)
	if _, err := oras.Copy(ctx, src, "v1", target, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("copy into %s: %v", ref, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("archive written before Close")
	}
	if err := target.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := target.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	names := tarNames(t, file)
	if len(names) < 5 || names[0] != "oci-layout" || names[1] != "index.json" || names[2] != "blobs/" {
		t.Errorf("archive entries = %v", names)
	}
	for _, n := range names {
		if strings.Contains(n, "ingest") {
			t.Errorf("archive holds %s", n)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("folder of the archive holds %d entries, want only the archive", len(entries))
	}
	first, _ := os.ReadFile(file)

	// Read back; a read-only session leaves the file untouched.
	st1, _ := os.Stat(file)
	target, _ = OpenTarget(ctx, ref, nil)
	if got := fetchArtifact(t, target, "v1"); string(got) != "archived payload" {
		t.Errorf("fetched %q", got)
	}
	target.Close()
	if st2, _ := os.Stat(file); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("a read-only session rewrote the archive")
	}

	// Adding a tag to an existing archive keeps the old one.
	pushArtifact(t, src, "v2", []byte("second payload"))
	ref2 := mustParse(t, "oci-archive:"+file+":v2")
	target, _ = OpenTarget(ctx, ref2, nil)
	if _, err := oras.Copy(ctx, src, "v2", target, ref2.Tag, oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	target.Close()
	target, _ = OpenTarget(ctx, ref, nil)
	if got := fetchArtifact(t, target, "v1"); string(got) != "archived payload" {
		t.Errorf("v1 after adding v2: %q", got)
	}
	if got := fetchArtifact(t, target, "v2"); string(got) != "second payload" {
		t.Errorf("v2: %q", got)
	}
	target.Close()

	// The same content gives the same bytes (reproducible archives).
	again := filepath.Join(t.TempDir(), "again.tar")
	src1 := memory.New()
	pushArtifact(t, src1, "v1", []byte("archived payload"))
	target, _ = OpenTarget(ctx, mustParse(t, "oci-archive:"+again), nil)
	if _, err := oras.Copy(ctx, src1, "v1", target, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	target.Close()
	if second, _ := os.ReadFile(again); !bytes.Equal(first, second) {
		t.Error("two archives of the same artifact differ")
	}

	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temporary folders left behind: %v", entries)
	}
}

func TestOCIArchiveRejects(t *testing.T) {
	ctx := context.Background()
	write := func(name string, entries map[string]string) string {
		p := filepath.Join(t.TempDir(), name)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for n, body := range entries {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		tw.Close()
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	evil := write("evil.tar", map[string]string{"../evil": "x"})
	if _, err := OpenTarget(ctx, mustParse(t, "oci-archive:"+evil), nil); err == nil || !strings.Contains(err.Error(), "leaves the archive") {
		t.Errorf("path traversal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(evil), "..", "evil")); err == nil {
		t.Error("an entry escaped")
	}
	plain := write("plain.tar", map[string]string{"hello.txt": "x"})
	if _, err := OpenTarget(ctx, mustParse(t, "oci-archive:"+plain), nil); err == nil || !strings.Contains(err.Error(), "is not an OCI image layout archive") {
		t.Errorf("non-layout tar: %v", err)
	}
}

// TestRegistryArchiveRegistry moves an artifact registry → oci-archive →
// another repository, the air-gapped transfer.
func TestRegistryArchiveRegistry(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	srv := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "p"})
	opts := &Options{Username: "u", Password: "p"}
	from := mustParse(t, srv.Host+"/src/probe:v1")
	src, err := OpenTarget(ctx, from, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pushArtifact(t, src, "v1", []byte("air-gapped"))

	archive := mustParse(t, "oci-archive:"+filepath.Join(t.TempDir(), "probe.tar")+":v1")
	dst, _ := OpenTarget(ctx, archive, opts)
	if _, err := oras.Copy(ctx, src, from.TagOrDigest(), dst, archive.TagOrDigest(), oras.DefaultCopyOptions); err != nil {
		t.Fatalf("registry → archive: %v", err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}

	to := mustParse(t, srv.Host+"/dst/probe:v2")
	back, _ := OpenTarget(ctx, archive, opts)
	defer back.Close()
	dst2, _ := OpenTarget(ctx, to, opts)
	defer dst2.Close()
	if _, err := oras.Copy(ctx, back, archive.TagOrDigest(), dst2, to.TagOrDigest(), oras.DefaultCopyOptions); err != nil {
		t.Fatalf("archive → registry: %v", err)
	}
	if got := fetchArtifact(t, dst2, "v2"); string(got) != "air-gapped" {
		t.Errorf("fetched %q", got)
	}
}

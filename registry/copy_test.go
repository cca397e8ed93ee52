package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/registry/store"
)

// testPackages makes a two-architecture package without a compiler.
func testPackages(t *testing.T, seed byte) []packager.PlatformPackage {
	t.Helper()
	var out []packager.PlatformPackage
	for _, arch := range []string{"x86_64", "arm64"} {
		obj := append([]byte("\x7fELF"), bytes.Repeat([]byte{seed, byte(len(arch))}, 4096)...)
		m := packager.Meta{Arch: arch}
		m.BpfSkel.ObjName = "probe_bpf"
		m.BpfSkel.Doc = &packager.Doc{Version: "1.2.3", Brief: "a test probe"}
		m.BpfSkel.Progs = []packager.Prog{{Name: "handle", Attach: "tp/sched/sched_process_exec", Link: true}}
		out = append(out, packager.PlatformPackage{Package: &packager.Package{Object: obj, Meta: m}})
	}
	return out
}

func mustRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// blobsOnDisk lists the digests under the store's blobs/ and checks each
// file hashes to its name.
func blobsOnDisk(t testing.TB, dir string) map[digest.Digest]bool {
	t.Helper()
	out := map[digest.Digest]bool{}
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(data); got != d {
			t.Errorf("blob %s hashes to %s", d, got)
		}
		out[d] = true
	}
	return out
}

// storeFiles lists the store's files (to check it did not change).
func storeFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		// .lock and ingest/ are the store's own bookkeeping (locks, the
		// pins of open sessions), not content.
		if err == nil && !d.IsDir() && filepath.Base(p) != ".lock" && !strings.Contains(p, "/ingest/") {
			b, _ := os.ReadFile(p)
			out = append(out, strings.TrimPrefix(p, dir)+":"+string(b[:min(len(b), 64)]))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func pushPull(t *testing.T, srv registrytest.ServerOptions) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, srv)
	opts := &Options{Username: srv.Username, Password: srv.Password}
	ref := mustRef(t, reg.Host+"/probes/test:v1")
	dst, err := OpenTarget(ctx, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	res, err := Push(ctx, testPackages(t, 1), dst, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 4 || res.Skipped != 0 || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("first push %+v", res)
	}
	// Re-push: no blob is uploaded again.
	before := reg.Requests()
	res2, err := Push(ctx, testPackages(t, 1), dst, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Digest != res.Digest {
		t.Fatalf("same packages, new digest %s vs %s", res2.Digest, res.Digest)
	}
	if res2.Uploaded != 0 || res2.Skipped != 4 {
		t.Fatalf("re-push %+v", res2)
	}
	for _, r := range reg.Requests()[len(before):] {
		if strings.Contains(r.Path, "/blobs/uploads") {
			t.Errorf("re-push uploaded a blob: %s", r)
		}
	}
	store := openStore(t)
	src, _ := OpenTarget(ctx, ref, opts)
	defer src.Close()
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		p, err := Pull(ctx, src, ref, store, &PullOptions{Platform: platform})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"linux/amd64": "x86_64", "linux/arm64": "arm64"}[platform]; p.Package.Package.Meta.Arch != want {
			t.Errorf("%s: arch %s", platform, p.Package.Package.Meta.Arch)
		}
	}
	// From the store, offline.
	pp, err := Load(ctx, store, ref, "linux/arm64")
	if err != nil || pp.Package.Meta.Arch != "arm64" {
		t.Fatalf("load from store: %v %+v", err, pp)
	}
	imgs, err := store.List(ctx)
	if err != nil || len(imgs) != 1 || imgs[0].Reference != ref.String() || len(imgs[0].Platforms) != 2 {
		t.Fatalf("store list %+v %v", imgs, err)
	}
}

func TestPushPullBasicAuth(t *testing.T) {
	pushPull(t, registrytest.ServerOptions{Username: "u", Password: "p"})
}

func TestPushPullTokenAuth(t *testing.T) {
	pushPull(t, registrytest.ServerOptions{Username: "u", Password: "p", Token: true})
}

func TestPushWrongPassword(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "p"})
	ref := mustRef(t, reg.Host+"/probes/test:v1")
	dst, _ := OpenTarget(ctx, ref, &Options{Username: "u", Password: "wrong-secret"})
	_, err := Push(ctx, testPackages(t, 1), dst, ref, nil)
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("got %v", err)
	}
}

// A connection cut in the middle of a blob and a 503, once each: push and
// pull still succeed.
func TestTransferFaults(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	proxy := registrytest.NewFaultyProxy(t, reg.Host)
	opts := &Options{PlainHTTP: true}
	ref := mustRef(t, proxy.Host+"/probes/faulty:v1")
	dst, _ := OpenTarget(ctx, ref, opts)
	defer dst.Close()
	proxy.CutNextUpload(1000)
	proxy.FailNext(`/manifests/`)
	if _, err := Push(ctx, testPackages(t, 2), dst, ref, nil); err != nil {
		t.Fatalf("push through faults: %v", err)
	}
	if proxy.Faults() < 2 {
		t.Fatalf("only %d faults injected", proxy.Faults())
	}
	store := openStore(t)
	f0 := proxy.Faults()
	proxy.CutNextBlobGet(500)
	proxy.FailNext(`/blobs/`)
	p, err := Pull(ctx, dst, ref, store, nil)
	if err != nil {
		t.Fatalf("pull through faults: %v", err)
	}
	if proxy.Faults() < f0+2 {
		t.Fatalf("pull saw %d faults", proxy.Faults()-f0)
	}
	if p.Package.Package == nil || len(p.Package.Package.Object) != 4+8192 {
		t.Fatalf("pulled %+v", p.Package)
	}
}

// A blob that does not match its digest fails the pull with a digest error
// and leaves the store as it was.
func TestPullCorruptedBlob(t *testing.T) {
	ctx := context.Background()
	layout := t.TempDir()
	ref := mustRef(t, "oci:"+layout+":v1")
	dst, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, testPackages(t, 3), dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	// Corrupt the largest blob (an object layer) in place, same size.
	var biggest string
	var size int64
	filepath.WalkDir(filepath.Join(layout, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if info, e := d.Info(); e == nil && !d.IsDir() && info.Size() > size {
			biggest, size = p, info.Size()
		}
		return nil
	})
	data, _ := os.ReadFile(biggest)
	data[len(data)/2] ^= 0xff
	os.WriteFile(biggest, data, 0o644)

	store := openStore(t)
	// Something already in the store must stay as it was.
	other := mustRef(t, "oci:"+t.TempDir()+":keep")
	od, _ := OpenTarget(ctx, other, nil)
	Push(ctx, testPackages(t, 4), od, other, nil)
	if _, err := Pull(ctx, od, other, store, nil); err != nil {
		t.Fatal(err)
	}
	od.Close()
	before := storeFiles(t, store.Dir())
	src, _ := OpenTarget(ctx, ref, nil)
	defer src.Close()
	_, err = Pull(ctx, src, ref, store, nil)
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("got %v", err)
	}
	if after := storeFiles(t, store.Dir()); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("store changed:\nbefore %v\nafter  %v", before, after)
	}
}

// Media types ecc does not know are refused before anything is stored.
func TestPullUnknownMediaType(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustRef(t, reg.Host+"/images/plain:v1")
	dst, _ := OpenTarget(ctx, ref, nil)
	defer dst.Close()
	// A container-image-like manifest with a gzip layer.
	layer := pushBytes(t, dst, "application/vnd.oci.image.layer.v1.tar+gzip", []byte("tarball"))
	cfg := pushBytes(t, dst, "application/vnd.oci.image.config.v1+json", []byte("{}"))
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + descJSON(cfg) + `,"layers":[` + descJSON(layer) + `]}`)
	md := pushBytes(t, dst, "application/vnd.oci.image.manifest.v1+json", man)
	if err := dst.Tag(ctx, md, "v1"); err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	_, err := Pull(ctx, dst, ref, store, nil)
	if !errors.Is(err, packager.ErrUnknownMediaType) || !strings.Contains(err.Error(), "application/vnd.oci.image.config.v1+json") {
		t.Fatalf("got %v", err)
	}
	if imgs, _ := store.List(ctx); len(imgs) != 0 {
		t.Fatalf("store got %v", imgs)
	}
}

func pushBytes(t *testing.T, dst Target, mediaType string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := dst.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

func descJSON(d ocispec.Descriptor) string {
	b, _ := json.Marshal(d)
	return string(b)
}

// A pull fetches only the chosen platform, and the metadata embedded in the
// manifest needs no request: index, manifest, object.
func TestPullRequests(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustRef(t, reg.Host+"/probes/req:v1")
	dst, _ := OpenTarget(ctx, ref, nil)
	defer dst.Close()
	if _, err := Push(ctx, testPackages(t, 5), dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	var c registrytest.Counter
	src, _ := OpenTarget(ctx, ref, &Options{WrapTransport: c.Wrap})
	defer src.Close()
	store := openStore(t)
	p, err := Pull(ctx, src, ref, store, &PullOptions{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /v2/probes/req/manifests/v1", "GET /v2/probes/req/manifests/" + p.Manifest.Desc.Digest.String(),
		"GET /v2/probes/req/blobs/" + p.Manifest.Object.Digest.String()}
	if got := c.Requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The store has the index, the arm64 manifest and its blobs only.
	if n := len(blobsOnDisk(t, store.Dir())); n != 4 {
		t.Errorf("%d blobs in the store, want 4 (index, manifest, config, object)", n)
	}
	if _, err := Load(ctx, store, ref, "linux/amd64"); !errors.Is(err, ErrNotInStore) || !errors.Is(err, ErrNotFound) {
		t.Errorf("the other platform: %v", err)
	}
	if pp, err := Load(ctx, store, ref, "linux/arm64"); err != nil || pp.Package.Meta.Arch != "arm64" {
		t.Errorf("load arm64: %v", err)
	}
}

// requestKinds sums up requests as "METHOD what" counts: an upload's
// location and a blob's or manifest's digest are replaced by a word, so
// that the counts do not depend on the content or the order.
func requestKinds(reqs []string) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		method, path, _ := strings.Cut(r, " ")
		var what string
		switch {
		case strings.Contains(path, "/blobs/uploads/") && strings.HasSuffix(path, "/blobs/uploads/"):
			what = "upload start"
		case strings.Contains(path, "/blobs/uploads/"):
			what = "upload"
		case strings.Contains(path, "/blobs/"):
			what = "blob"
		case strings.Contains(path, "/manifests/sha256:"):
			what = "manifest by digest"
		case strings.Contains(path, "/manifests/"):
			what = "manifest by tag"
		default:
			what = path
		}
		out[method+" "+what]++
	}
	return out
}

func kindsString(m map[string]int) string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// A push of a two-architecture package (four blobs: two objects, two
// configs) to a new repository: a HEAD and an upload (POST, PUT) per blob,
// a PUT per manifest, and the index by tag in one PUT. A push of the same
// package again uploads nothing.
func TestPushRequests(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustRef(t, reg.Host+"/probes/push:v1")
	var c registrytest.Counter
	dst, err := OpenTarget(ctx, ref, &Options{WrapTransport: c.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := Push(ctx, testPackages(t, 6), dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"HEAD blob": 4, "POST upload start": 4, "PUT upload": 4, "PUT manifest by digest": 2, "PUT manifest by tag": 1}
	if got := requestKinds(c.Requests()); kindsString(got) != kindsString(want) {
		t.Errorf("first push: %s\nwant %s", kindsString(got), kindsString(want))
	}
	n := c.Count()
	if _, err := Push(ctx, testPackages(t, 6), dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"HEAD blob": 4, "PUT manifest by digest": 2, "PUT manifest by tag": 1}
	if got := requestKinds(c.Requests()[n:]); kindsString(got) != kindsString(want) {
		t.Errorf("push again: %s\nwant %s", kindsString(got), kindsString(want))
	}
}

// Copies between the targets OpenTarget returns (an oci-archive to a
// registry, as TestRegistryArchiveRegistry does) go through oras.Copy; the
// registry target keeps oras-go's optional interfaces, so the index goes by
// tag in one PUT. For the jobs ecc does itself, its engine (copy.go) sends
// fewer requests than oras.Copy would: no HEAD before a manifest PUT on a
// push, and on a pull neither the other platform nor the config embedded in
// the manifest. That is the reason it is kept (doc.go, "Copy engine"); if
// oras.Copy ever sends as few, this test says so.
func TestCopyRequests(t *testing.T) {
	ctx := context.Background()
	archive := mustRef(t, "oci-archive:"+filepath.Join(t.TempDir(), "probe.tar")+":v1")
	at, err := OpenTarget(ctx, archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, testPackages(t, 10), at, archive, nil); err != nil {
		t.Fatal(err)
	}
	if err := at.Close(); err != nil {
		t.Fatal(err)
	}
	// Each copy goes to a registry of its own: the test registry shares
	// blobs between repositories.
	copyTo := func(push func(dst Target, ref Reference) error) map[string]int {
		t.Helper()
		reg := registrytest.NewServer(t, registrytest.ServerOptions{})
		ref := mustRef(t, reg.Host+"/probes/copy:v1")
		var c registrytest.Counter
		dst, err := OpenTarget(ctx, ref, &Options{WrapTransport: c.Wrap})
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		if err := push(dst, ref); err != nil {
			t.Fatal(err)
		}
		return requestKinds(c.Requests())
	}
	src, err := OpenTarget(ctx, archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	orasPush := copyTo(func(dst Target, ref Reference) error {
		_, err := oras.Copy(ctx, src, "v1", dst, ref.Tag, oras.DefaultCopyOptions)
		return err
	})
	want := map[string]int{"HEAD blob": 4, "HEAD manifest by digest": 3, "POST upload start": 4, "PUT upload": 4,
		"PUT manifest by digest": 2, "PUT manifest by tag": 1}
	if kindsString(orasPush) != kindsString(want) {
		t.Errorf("oras.Copy from an oci-archive: %s\nwant %s", kindsString(orasPush), kindsString(want))
	}
	eccPush := copyTo(func(dst Target, ref Reference) error {
		_, err := Push(ctx, testPackages(t, 10), dst, ref, nil)
		return err
	})
	if total(eccPush) >= total(orasPush) {
		t.Errorf("push: ecc sends %d requests (%s), oras.Copy %d (%s): revisit the copy engine",
			total(eccPush), kindsString(eccPush), total(orasPush), kindsString(orasPush))
	}

	// Pulls of one platform: ecc's, and oras.Copy's with MapRoot choosing the
	// platform's manifest.
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustRef(t, reg.Host+"/probes/copy:v1")
	dst, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := Push(ctx, testPackages(t, 10), dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	pullWith := func(pull func(src Target) error) map[string]int {
		t.Helper()
		var c registrytest.Counter
		src, err := OpenTarget(ctx, ref, &Options{WrapTransport: c.Wrap})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := pull(src); err != nil {
			t.Fatal(err)
		}
		return requestKinds(c.Requests())
	}
	eccPull := pullWith(func(src Target) error {
		_, err := Pull(ctx, src, ref, openStore(t), &PullOptions{Platform: "linux/arm64"})
		return err
	})
	orasPull := pullWith(func(src Target) error {
		opts := oras.DefaultCopyOptions
		opts.MapRoot = func(ctx context.Context, s content.ReadOnlyStorage, root ocispec.Descriptor) (ocispec.Descriptor, error) {
			return packager.SelectManifest(ctx, s, root, "linux/arm64")
		}
		_, err := oras.Copy(ctx, src, "v1", openStore(t), ref.String(), opts)
		return err
	})
	if want := map[string]int{"GET manifest by tag": 1, "GET manifest by digest": 1, "GET blob": 1}; kindsString(eccPull) != kindsString(want) {
		t.Errorf("ecc pull: %s\nwant %s", kindsString(eccPull), kindsString(want))
	}
	if total(eccPull) >= total(orasPull) {
		t.Errorf("pull: ecc sends %d requests (%s), oras.Copy %d (%s): revisit the copy engine",
			total(eccPull), kindsString(eccPull), total(orasPull), kindsString(orasPull))
	}
	t.Logf("push: ecc %d requests, oras.Copy %d; pull: ecc %d, oras.Copy %d",
		total(eccPush), total(orasPush), total(eccPull), total(orasPull))
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

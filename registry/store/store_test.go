package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

const stArtifactType = "application/vnd.ecc.test.v1"

// stBlob is a descriptor and its bytes.
type stBlob struct {
	desc ocispec.Descriptor
	data []byte
}

func stMake(mediaType string, data []byte) stBlob {
	return stBlob{ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data}
}

func stJSON(mediaType string, v any) stBlob {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return stMake(mediaType, data)
}

// stArtifact is a package-like graph: an index over an amd64 and an arm64
// manifest sharing a config and a layer, each with a layer of its own.
type stArtifact struct {
	root  ocispec.Descriptor
	blobs []stBlob // push order: leaves, manifests, index
}

func stNewArtifact(name string, shared []byte, created time.Time) stArtifact {
	cfg := stMake("application/vnd.ecc.test.config.v1+json", []byte(`{"name":"shared-config"}`))
	sharedLayer := stMake("application/vnd.ecc.test.layer.v1", shared)
	ann := map[string]string{ocispec.AnnotationTitle: name, ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	a := stArtifact{blobs: []stBlob{cfg, sharedLayer}}
	var mans []ocispec.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		own := stMake("application/vnd.ecc.test.layer.v1", []byte(name+" object for "+arch))
		own.desc.Annotations = map[string]string{ocispec.AnnotationTitle: name + ".bpf.o"}
		m := stJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: stArtifactType, Config: cfg.desc, Layers: []ocispec.Descriptor{sharedLayer.desc, own.desc},
			Annotations: ann,
		})
		a.blobs = append(a.blobs, own, m)
		d := m.desc
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		mans = append(mans, d)
	}
	idx := stJSON(ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		ArtifactType: stArtifactType, Manifests: mans, Annotations: ann,
	})
	a.blobs = append(a.blobs, idx)
	a.root = idx.desc
	return a
}

// digests of every blob of the artifact.
func (a stArtifact) digests() map[digest.Digest]bool {
	m := map[digest.Digest]bool{}
	for _, b := range a.blobs {
		m[b.desc.Digest] = true
	}
	return m
}

// size of the distinct blobs.
func (a stArtifact) size() int64 {
	seen := map[digest.Digest]bool{}
	var n int64
	for _, b := range a.blobs {
		if !seen[b.desc.Digest] {
			seen[b.desc.Digest] = true
			n += b.desc.Size
		}
	}
	return n
}

func (a stArtifact) push(t testing.TB, s *Store) {
	t.Helper()
	for _, b := range a.blobs {
		if err := s.Push(context.Background(), b.desc, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			t.Fatalf("push %s: %v", b.desc.Digest, err)
		}
	}
}

// memory returns an oras memory store holding the artifact tagged "src".
func (a stArtifact) memory(ctx context.Context) (*memory.Store, error) {
	m := memory.New()
	for _, b := range a.blobs {
		if err := m.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return nil, err
		}
	}
	return m, m.Tag(ctx, a.root, "src")
}

func stOpen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// stBlobsOnDisk lists the digests under blobs/ and checks each file hashes
// to its name.
func stBlobsOnDisk(t testing.TB, dir string) map[digest.Digest]bool {
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

func stIngest(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, storeIngestDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func stReadIndex(t testing.TB, dir string) ocispec.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("index.json: schemaVersion %d mediaType %q", idx.SchemaVersion, idx.MediaType)
	}
	return idx
}

func stNames(idx ocispec.Index) []string {
	var names []string
	for _, e := range idx.Manifests {
		if n := e.Annotations[ocispec.AnnotationRefName]; n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("ECC_STORE_DIR", "/x/store")
	if got := DefaultDir(); got != "/x/store" {
		t.Errorf("with ECC_STORE_DIR: %s", got)
	}
	t.Setenv("ECC_STORE_DIR", "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if got := DefaultDir(); got != "/data/ecc/store" {
		t.Errorf("with XDG_DATA_HOME: %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if got := DefaultDir(); got != "/home/u/.local/share/ecc/store" {
		t.Errorf("with HOME: %s", got)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	s := stOpen(t, dir)
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	art := stNewArtifact("probe", []byte("shared layer"), created)
	art.push(t, s)

	// A single-manifest image whose config is an image config (platform
	// from the config) and that shares the shared layer with the index.
	cfg := stJSON(ocispec.MediaTypeImageConfig, map[string]string{"os": "linux", "architecture": "riscv64"})
	layer := art.blobs[1]
	single := stJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfg.desc, Layers: []ocispec.Descriptor{layer.desc},
	})
	for _, b := range []stBlob{cfg, single} {
		if err := s.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Push(ctx, layer.desc, bytes.NewReader(layer.data)); !errors.Is(err, errdef.ErrAlreadyExists) {
		t.Errorf("pushing a present blob: %v, want ErrAlreadyExists", err)
	}

	const probe, x, foo = "ghcr.io/org/probe:v1", "127.0.0.1:5000/x:latest", "localhost/foo:dev"
	if err := s.Tag(ctx, art.root, probe); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, single.desc, x); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, stMake("x", []byte("absent")).desc, "localhost/absent:v1"); !errors.Is(err, ErrNotInStore) {
		t.Errorf("tagging absent content: %v, want ErrNotInStore", err)
	}

	// Resolve: names, digests of roots and of inner nodes, unknown names.
	d, err := s.Resolve(ctx, probe)
	if err != nil || d.Digest != art.root.Digest || d.MediaType != ocispec.MediaTypeImageIndex || d.Size != art.root.Size {
		t.Fatalf("Resolve(%s) = %+v, %v", probe, d, err)
	}
	if _, ok := d.Annotations[ocispec.AnnotationRefName]; ok {
		t.Errorf("Resolve leaks the ref.name annotation: %v", d.Annotations)
	}
	arm := art.blobs[5].desc // arm64 manifest
	d, err = s.Resolve(ctx, arm.Digest.String())
	if err != nil || d.Digest != arm.Digest || d.MediaType != ocispec.MediaTypeImageManifest || d.Platform == nil || d.Platform.Architecture != "arm64" {
		t.Errorf("Resolve(arm64 manifest digest) = %+v, %v", d, err)
	}
	if d, err = s.Resolve(ctx, "ghcr.io/org/probe@"+single.desc.Digest.String()); err != nil || d.Digest != single.desc.Digest {
		t.Errorf("Resolve(name@digest) = %+v, %v", d, err)
	}
	_, err = s.Resolve(ctx, "ghcr.io/org/probe:v2")
	if !errors.Is(err, ErrNotInStore) || !errors.Is(err, errdef.ErrNotFound) ||
		err.Error() != "ghcr.io/org/probe:v2: not in the local store" {
		t.Errorf("Resolve(unknown) error = %v", err)
	}
	if _, err = s.Resolve(ctx, digest.FromString("nothing").String()); !errors.Is(err, ErrNotInStore) {
		t.Errorf("Resolve(unknown digest) error = %v", err)
	}

	// Fetch.
	for _, b := range art.blobs {
		got, err := content.FetchAll(ctx, s, b.desc)
		if err != nil || !bytes.Equal(got, b.data) {
			t.Fatalf("fetch %s: %q, %v", b.desc.Digest, got, err)
		}
	}
	if _, err := s.Fetch(ctx, stMake("x", []byte("absent")).desc); !errors.Is(err, ErrNotInStore) || !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("fetching an absent blob: %v", err)
	}

	// Predecessors.
	preds, err := s.Predecessors(ctx, layer.desc)
	if err != nil {
		t.Fatal(err)
	}
	var pd []digest.Digest
	for _, p := range preds {
		pd = append(pd, p.Digest)
	}
	want := []digest.Digest{art.blobs[3].desc.Digest, art.blobs[5].desc.Digest, single.desc.Digest}
	slices.Sort(pd)
	slices.Sort(want)
	if !slices.Equal(pd, want) {
		t.Errorf("Predecessors(shared layer) = %v, want %v", pd, want)
	}

	// List.
	imgs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("List = %+v, want 2 images", imgs)
	}
	wantX := Image{Reference: x, Repository: "127.0.0.1:5000/x", Tag: "latest", Digest: single.desc.Digest.String(),
		MediaType: ocispec.MediaTypeImageManifest, Platforms: []string{"linux/riscv64"}, Size: single.desc.Size + cfg.desc.Size + layer.desc.Size}
	wantProbe := Image{Reference: probe, Repository: "ghcr.io/org/probe", Tag: "v1", Digest: art.root.Digest.String(),
		MediaType: ocispec.MediaTypeImageIndex, Platforms: []string{"linux/amd64", "linux/arm64"}, Size: art.size(), Created: created, Title: "probe"}
	if !stImageEqual(imgs[0], wantX) || !stImageEqual(imgs[1], wantProbe) {
		t.Errorf("List =\n %+v\n %+v\nwant\n %+v\n %+v", imgs[0], imgs[1], wantX, wantProbe)
	}

	// TagRef, then removal with garbage collection.
	if err := s.TagRef(ctx, probe, foo); err != nil {
		t.Fatal(err)
	}
	if err := s.TagRef(ctx, "localhost/none:v1", "localhost/z:v1"); !errors.Is(err, ErrNotInStore) {
		t.Errorf("TagRef from an unknown name: %v", err)
	}
	if d, err := s.Resolve(ctx, foo); err != nil || d.Digest != art.root.Digest {
		t.Fatalf("Resolve(%s) after TagRef = %v, %v", foo, d, err)
	}
	if names := stNames(stReadIndex(t, dir)); !slices.Equal(names, []string{x, probe, foo}) {
		t.Errorf("index.json names = %v", names)
	}

	// The Store pinned what it resolved: release that first, and remove
	// from a fresh Store.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := stOpen(t, dir)
	all := art.digests()
	all[cfg.desc.Digest], all[single.desc.Digest] = true, true
	if err := s2.Remove(ctx, probe); err != nil {
		t.Fatal(err)
	}
	if got := stBlobsOnDisk(t, dir); !maps.Equal(got, all) {
		t.Errorf("after removing one of two names, blobs = %v, want %v", got, all)
	}
	if err := s2.Remove(ctx, probe); !errors.Is(err, ErrNotInStore) {
		t.Errorf("removing a removed name: %v", err)
	}
	if err := s2.Remove(ctx, foo); err != nil {
		t.Fatal(err)
	}
	left := map[digest.Digest]bool{cfg.desc.Digest: true, single.desc.Digest: true, layer.desc.Digest: true}
	if got := stBlobsOnDisk(t, dir); !maps.Equal(got, left) {
		t.Errorf("after removing the index's last name, blobs = %v, want only the single image's %v", got, left)
	}
	if err := s2.Remove(ctx, x); err != nil {
		t.Fatal(err)
	}
	if got := stBlobsOnDisk(t, dir); len(got) != 0 {
		t.Errorf("after removing every name, blobs = %v", got)
	}
	if idx := stReadIndex(t, dir); len(idx.Manifests) != 0 {
		t.Errorf("index.json after removing everything: %+v", idx.Manifests)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if left := stIngest(t, dir); len(left) != 0 {
		t.Errorf("ingest holds %v after Close", left)
	}
}

func stImageEqual(a, b Image) bool {
	return a.Reference == b.Reference && a.Repository == b.Repository && a.Tag == b.Tag && a.Digest == b.Digest &&
		a.MediaType == b.MediaType && slices.Equal(a.Platforms, b.Platforms) && a.Size == b.Size &&
		a.Created.Equal(b.Created) && a.Title == b.Title
}

func TestOpenRefusesOtherFolders(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("OpenStore of a folder with other files: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err == nil {
		t.Error("OpenStore wrote into a folder it refused")
	}
	// An existing layout (made by another tool) is fine, and reopening
	// leaves it as it was.
	dir = t.TempDir()
	stOpen(t, dir).Close()
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	stOpen(t, dir)
	if after, _ := os.ReadFile(filepath.Join(dir, "index.json")); !bytes.Equal(before, after) {
		t.Errorf("reopening rewrote index.json")
	}
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"9"}`), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "ECC_STORE_DIR") {
		t.Errorf("OpenStore of a layout of another version: %v", err)
	}
}

func TestStoreSplitName(t *testing.T) {
	for _, c := range []struct{ in, repo, tag, dgst string }{
		{"ghcr.io/org/probe:v1", "ghcr.io/org/probe", "v1", ""},
		{"127.0.0.1:5000/x:latest", "127.0.0.1:5000/x", "latest", ""},
		{"localhost:5000/x", "localhost:5000/x", "", ""},
		{"[::1]:5000/a/b:v2@sha256:abc", "[::1]:5000/a/b", "v2", "sha256:abc"},
		{"ghcr.io/x@sha256:abc", "ghcr.io/x", "", "sha256:abc"},
	} {
		repo, tag, d := storeSplitName(c.in)
		if repo != c.repo || tag != c.tag || d != c.dgst {
			t.Errorf("storeSplitName(%q) = %q %q %q", c.in, repo, tag, d)
		}
	}
}

// Content a Store resolved or pushed survives another Store's garbage
// collection until it is tagged or the Store is closed; a dead process's
// session and ingest files are swept.
func TestStorePins(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := stOpen(t, dir), stOpen(t, dir)
	art := stNewArtifact("pinned", []byte("pinned shared"), time.Time{})
	art.push(t, a)
	if err := a.Tag(ctx, art.root, "localhost/p:v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve(ctx, "localhost/p:v1"); err != nil {
		t.Fatal(err)
	}
	// An untagged blob pushed by a: pinned by a until a closes.
	loose := stMake("application/octet-stream", []byte("loose"))
	if err := a.Push(ctx, loose.desc, bytes.NewReader(loose.data)); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, "localhost/p:v1"); err != nil {
		t.Fatal(err)
	}
	want := art.digests()
	want[loose.desc.Digest] = true
	if got := stBlobsOnDisk(t, dir); !maps.Equal(got, want) {
		t.Fatalf("content pinned by open Stores was collected: have %d blobs, want %d", len(got), len(want))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := a.gc(ctx); err != nil || n != len(art.digests()) {
		t.Fatalf("gc after the reader closed removed %d blobs (%v), want %d", n, err, len(art.digests()))
	}
	if got := stBlobsOnDisk(t, dir); !maps.Equal(got, map[digest.Digest]bool{loose.desc.Digest: true}) {
		t.Fatalf("blobs after the reader closed: %v", got)
	}

	// A dead process left a session pinning the loose blob, a half-written
	// blob and an index.json temp file: none of them is locked.
	line, _ := json.Marshal(loose.desc)
	for name, data := range map[string][]byte{"session-dead": append(line, '\n'), "blob-0123-dead": []byte("partial"), "index-dead": []byte("{")} {
		if err := os.WriteFile(filepath.Join(dir, storeIngestDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := a.gc(ctx); err != nil || n != 1 {
		t.Fatalf("gc with only a dead session removed %d blobs (%v), want the loose one", n, err)
	}
	if left := stIngest(t, dir); len(left) != 0 {
		t.Errorf("gc left %v in ingest", left)
	}
}

// A manifest with a subject (a signature) is kept as an untagged entry while
// its subject is in the store, and found by Predecessors.
func TestStoreReferrers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := stOpen(t, dir)
	art := stNewArtifact("signed", []byte("signed shared"), time.Time{})
	art.push(t, s)
	if err := s.Tag(ctx, art.root, "localhost/signed:v1"); err != nil {
		t.Fatal(err)
	}
	sigBlob := stMake("application/vnd.test.signature", []byte("signature"))
	sub := storePlain(art.root)
	sig := stJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.test.sig",
		Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{sigBlob.desc}, Subject: &sub,
	})
	for _, b := range []stBlob{stMake(ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data), sigBlob, sig} {
		if err := s.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // drop the pins: only index.json keeps the signature
		t.Fatal(err)
	}
	if _, err := s.gc(ctx); err != nil {
		t.Fatal(err)
	}
	preds, err := s.Predecessors(ctx, art.root)
	if err != nil || len(preds) != 1 || preds[0].Digest != sig.desc.Digest {
		t.Fatalf("Predecessors(subject) = %v, %v", preds, err)
	}
	if got := stBlobsOnDisk(t, dir); !got[sig.desc.Digest] || !got[sigBlob.desc.Digest] {
		t.Fatal("the signature of a named image was collected")
	}
	if err := s.Remove(ctx, "localhost/signed:v1"); err != nil {
		t.Fatal(err)
	}
	if got := stBlobsOnDisk(t, dir); len(got) != 0 {
		t.Errorf("after removing the subject, blobs remain: %v", got)
	}
	if idx := stReadIndex(t, dir); len(idx.Manifests) != 0 {
		t.Errorf("the referrer entry survived its subject: %+v", idx.Manifests)
	}
}

// The store is an OCI layout other tools read: oras-go's read-only OCI
// store and skopeo.
func TestStoreLayoutValid(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := stOpen(t, dir)
	data, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil || string(data) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout = %q, %v", data, err)
	}
	stReadIndex(t, dir)
	art := stNewArtifact("layout", []byte("layout shared"), time.Time{})
	art.push(t, s)
	const name = "ghcr.io/org/layout:v1"
	if err := s.Tag(ctx, art.root, name); err != nil {
		t.Fatal(err)
	}
	idx := stReadIndex(t, dir)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != art.root.Digest || idx.Manifests[0].Annotations[ocispec.AnnotationRefName] != name {
		t.Fatalf("index.json manifests = %+v", idx.Manifests)
	}

	ro, err := oci.NewFromFS(ctx, os.DirFS(dir))
	if err != nil {
		t.Fatalf("oras-go cannot read the layout: %v", err)
	}
	d, err := ro.Resolve(ctx, name)
	if err != nil || d.Digest != art.root.Digest {
		t.Fatalf("oras-go Resolve(%s) = %v, %v", name, d, err)
	}
	mem := memory.New()
	if _, err := oras.Copy(ctx, ro, name, mem, "copy", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("oras-go copies from the layout: %v", err)
	}

	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		testenv.Missing(t, "skopeo is not installed (make test-deps installs it): cannot check the layout with it")
	}
	// skopeo's oci: transport splits at the first ':' after the folder, so
	// a full reference works as the image name.
	out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+dir+":"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect --raw oci:DIR:%s: %v\n%s", name, err, out)
	}
	if !bytes.Equal(out, art.blobs[len(art.blobs)-1].data) {
		t.Errorf("skopeo read %q, want the index we stored", out)
	}
	// And a platform manifest, the way skopeo resolves an index.
	out, err = exec.Command(skopeo, "--override-arch", "arm64", "inspect", "--config", "--raw", "oci:"+dir+":"+name).CombinedOutput()
	if err != nil || !bytes.Equal(out, art.blobs[0].data) {
		t.Errorf("skopeo inspect --config of the arm64 manifest = %q, %v; want %q", out, err, art.blobs[0].data)
	}
}

func TestStoreCorruptedBlob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := stOpen(t, dir)
	b := stMake("application/octet-stream", []byte("the original content of a layer"))
	if err := s.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "blobs", "sha256", b.desc.Digest.Encoded())
	bad := bytes.ToUpper(b.data) // same size, other bytes
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Fetch(ctx, b.desc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, content.ErrMismatchedDigest) || !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), b.desc.Digest.String()) ||
		!strings.Contains(err.Error(), digest.FromBytes(bad).String()) {
		t.Errorf("reading a corrupted blob: %v", err)
	}
	if _, err := content.FetchAll(ctx, s, b.desc); err == nil {
		t.Error("FetchAll of a corrupted blob succeeded")
	}
	// Truncated: caught when opening.
	if err := os.WriteFile(p, b.data[:5], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(ctx, b.desc); err == nil || !strings.Contains(err.Error(), b.desc.Digest.String()) {
		t.Errorf("fetching a truncated blob: %v", err)
	}
	// A corrupted manifest stops garbage collection instead of losing what
	// it references.
	art := stNewArtifact("corrupt", []byte("corrupt shared"), time.Time{})
	art.push(t, s)
	if err := s.Tag(ctx, art.root, "localhost/c:v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	amd := art.blobs[3].desc
	mp := filepath.Join(dir, "blobs", "sha256", amd.Digest.Encoded())
	orig, _ := os.ReadFile(mp)
	if err := os.WriteFile(mp, bytes.Repeat([]byte(" "), len(orig)), 0o644); err != nil {
		t.Fatal(err)
	}
	if imgs, err := s.List(ctx); err != nil || len(imgs) != 1 {
		t.Errorf("List with a corrupted manifest = %v, %v; want the image listed", imgs, err)
	}
	if _, err := s.gc(ctx); err == nil || !strings.Contains(err.Error(), amd.Digest.String()) {
		t.Errorf("gc over a corrupted manifest: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(ents) != len(art.digests())+1 {
		t.Errorf("gc deleted blobs despite a corrupted manifest: %d left", len(ents))
	}
}

type stFailingReader struct{ n int }

func (r *stFailingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestStorePushMismatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := stOpen(t, dir)
	good := stMake("application/octet-stream", []byte("expected content"))
	other := []byte("EXPECTED CONTENT") // same size
	err := s.Push(ctx, good.desc, bytes.NewReader(other))
	if !errors.Is(err, content.ErrMismatchedDigest) || !strings.Contains(err.Error(), good.desc.Digest.String()) ||
		!strings.Contains(err.Error(), digest.FromBytes(other).String()) {
		t.Errorf("pushing other bytes: %v", err)
	}
	if err := s.Push(ctx, good.desc, bytes.NewReader(good.data[:4])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("pushing too few bytes: %v", err)
	}
	if err := s.Push(ctx, good.desc, bytes.NewReader(append(slices.Clone(good.data), 'x'))); !errors.Is(err, content.ErrTrailingData) {
		t.Errorf("pushing too many bytes: %v", err)
	}
	if err := s.Push(ctx, good.desc, &stFailingReader{n: 3}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("pushing from a failing reader: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Push(cctx, good.desc, bytes.NewReader(good.data)); !errors.Is(err, context.Canceled) {
		t.Errorf("pushing with a cancelled context: %v", err)
	}
	if err := s.Push(ctx, ocispec.Descriptor{MediaType: "x", Digest: "sha256:../../etc", Size: 1}, strings.NewReader("x")); !errors.Is(err, errdef.ErrInvalidDigest) {
		t.Errorf("pushing with an invalid digest: %v", err)
	}
	if got := stBlobsOnDisk(t, dir); len(got) != 0 {
		t.Errorf("failed pushes left blobs: %v", got)
	}
	if ok, err := s.Exists(ctx, good.desc); ok || err != nil {
		t.Errorf("Exists after failed pushes = %v, %v", ok, err)
	}
	if left := stIngest(t, dir); len(left) != 0 {
		t.Errorf("failed pushes left ingest files: %v", left)
	}
	// A blob of the wrong size on disk (torn write from elsewhere) does not
	// count as present and is replaced by a push.
	p := filepath.Join(dir, "blobs", "sha256", good.desc.Digest.Encoded())
	os.WriteFile(p, []byte("short"), 0o644)
	if err := s.Push(ctx, good.desc, bytes.NewReader(good.data)); err != nil {
		t.Fatalf("pushing over a torn blob: %v", err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, good.data) {
		t.Errorf("blob after repair = %q", got)
	}
}

// ---- concurrency -------------------------------------------------------------

const stHelperEnv = "ECC_STORE_TEST_HELPER"

// stWorker pulls rounds of artifacts into the store with oras.Copy, names
// each round, re-points "latest" at it and removes the round's name (which
// garbage-collects the previous round while other workers push), and reads
// the other workers' latest images completely.
func stWorker(ctx context.Context, s *Store, id, rounds, workers int) error {
	shared := []byte("a layer every worker pushes")
	for r := range rounds {
		art := stNewArtifact(fmt.Sprintf("w%d-r%d", id, r), shared, time.Unix(int64(r), 0))
		src, err := art.memory(ctx)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("localhost/w%d:r%d", id, r)
		if _, err := oras.Copy(ctx, src, "src", s, name, oras.DefaultCopyOptions); err != nil {
			return fmt.Errorf("worker %d: copy into the store: %w", id, err)
		}
		if err := s.TagRef(ctx, name, fmt.Sprintf("localhost/w%d:latest", id)); err != nil {
			return fmt.Errorf("worker %d: %w", id, err)
		}
		if err := s.Remove(ctx, name); err != nil {
			return fmt.Errorf("worker %d: %w", id, err)
		}
		// Read someone else's latest image in full (every blob verified).
		other := fmt.Sprintf("localhost/w%d:latest", (id+r+1)%workers)
		if _, err := oras.Copy(ctx, s, other, memory.New(), "", oras.DefaultCopyOptions); err != nil && !errors.Is(err, ErrNotInStore) {
			return fmt.Errorf("worker %d: copy %s out of the store: %w", id, other, err)
		}
		if _, err := s.List(ctx); err != nil {
			return fmt.Errorf("worker %d: %w", id, err)
		}
	}
	return nil
}

// stCheckConcurrent checks the store after the workers: every name, every
// graph complete, valid index.json, nothing left in ingest, and a final
// collection leaves exactly the reachable blobs.
func stCheckConcurrent(t *testing.T, dir string, workers int) {
	ctx := context.Background()
	s := stOpen(t, dir)
	imgs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Reference)
		if !slices.Equal(img.Platforms, []string{"linux/amd64", "linux/arm64"}) {
			t.Errorf("%s: platforms %v", img.Reference, img.Platforms)
		}
	}
	var want []string
	for i := range workers {
		want = append(want, fmt.Sprintf("localhost/w%d:latest", i))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("names after the workers: %v, want %v", names, want)
	}
	if idx := stReadIndex(t, dir); !slices.Equal(stNames(idx), want) || len(idx.Manifests) != workers {
		t.Errorf("index.json: %+v", idx.Manifests)
	}
	if left := stIngest(t, dir); len(left) != 0 {
		t.Errorf("ingest holds %v after every worker closed its store", left)
	}
	reach := map[digest.Digest]bool{}
	for _, name := range want {
		mem := memory.New()
		root, err := oras.Copy(ctx, s, name, mem, "", oras.DefaultCopyOptions)
		if err != nil {
			t.Errorf("copying %s out: %v", name, err)
			continue
		}
		seen := map[digest.Digest]ocispec.Descriptor{}
		if err := s.walk(ctx, []ocispec.Descriptor{root}, seen, nil, nil); err != nil {
			t.Fatal(err)
		}
		for d := range seen {
			reach[d] = true
		}
	}
	s.Close()
	if _, err := s.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stBlobsOnDisk(t, dir); !maps.Equal(got, reach) {
		t.Errorf("after the final collection %d blobs on disk, %d reachable", len(got), len(reach))
	}
}

// TestStoreHelperProcess is a worker when run as a child of
// TestStoreConcurrentProcesses.
func TestStoreHelperProcess(t *testing.T) {
	v := os.Getenv(stHelperEnv)
	if v == "" {
		return
	}
	parts := strings.Split(v, ",")
	dir, start := parts[0], parts[1]
	id, _ := strconv.Atoi(parts[2])
	rounds, _ := strconv.Atoi(parts[3])
	workers, _ := strconv.Atoi(parts[4])
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(start); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal("no start signal")
		}
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := stWorker(context.Background(), s, id, rounds, workers); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreConcurrentProcesses(t *testing.T) {
	if os.Getenv(stHelperEnv) != "" {
		return
	}
	const workers, rounds = 8, 6
	dir := filepath.Join(t.TempDir(), "store")
	start := filepath.Join(t.TempDir(), "start")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range workers {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreHelperProcess$", "-test.count=1", "-test.timeout=2m")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d,%d,%d", stHelperEnv, dir, start, i, rounds, workers))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	began := time.Now()
	if err := os.WriteFile(start, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("worker process %d: %v\n%s", i, err, outs[i])
		}
	}
	t.Logf("%d processes × %d rounds (copy in, tag, remove+gc, copy out, list): %v", workers, rounds, time.Since(began))
	if t.Failed() {
		return
	}
	stCheckConcurrent(t, dir, workers)
}

func TestStoreConcurrentGoroutines(t *testing.T) {
	const workers, rounds = 8, 6
	dir := filepath.Join(t.TempDir(), "store")
	shared := stOpen(t, dir) // half the workers share one Store
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			s := shared
			if i%2 == 1 {
				var err error
				if s, err = Open(dir); err != nil {
					errs[i] = err
					return
				}
				defer s.Close()
			}
			errs[i] = stWorker(context.Background(), s, i, rounds, workers)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	shared.Close()
	stCheckConcurrent(t, dir, workers)
}

// A waiting lock gives up when its context ends.
func TestStoreLockContext(t *testing.T) {
	s := stOpen(t, t.TempDir())
	unlock, err := s.lock(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.List(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("List while another holds the exclusive lock: %v", err)
	}
	unlock()
	if _, err := s.List(context.Background()); err != nil {
		t.Errorf("List after the lock was released: %v", err)
	}
}

// ---- costs ---------------------------------------------------------------------

func BenchmarkStorePushBlob(b *testing.B) {
	s := stOpen(b, b.TempDir())
	data := make([]byte, 64<<10)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		copy(data, strconv.Itoa(i))
		blob := stMake("application/octet-stream", data)
		if err := s.Push(ctx, blob.desc, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreTag(b *testing.B) {
	s := stOpen(b, b.TempDir())
	art := stNewArtifact("bench", []byte("bench"), time.Time{})
	art.push(b, s)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := s.Tag(ctx, art.root, fmt.Sprintf("localhost/bench:v%d", i%100)); err != nil {
			b.Fatal(err)
		}
	}
}

// stFill100 makes a store holding 100 named images.
func stFill100(b *testing.B) (string, *Store) {
	dir := b.TempDir()
	s := stOpen(b, dir)
	for i := range 100 {
		art := stNewArtifact(fmt.Sprintf("img%d", i), []byte("shared"), time.Unix(int64(i), 0))
		art.push(b, s)
		if err := s.Tag(context.Background(), art.root, fmt.Sprintf("ghcr.io/org/img%d:v1", i)); err != nil {
			b.Fatal(err)
		}
	}
	return dir, s
}

func BenchmarkStoreList100(b *testing.B) {
	_, s := stFill100(b)
	for b.Loop() {
		imgs, err := s.List(context.Background())
		if err != nil || len(imgs) != 100 {
			b.Fatal(len(imgs), err)
		}
	}
}

func BenchmarkStoreResolve100(b *testing.B) {
	_, s := stFill100(b)
	for b.Loop() {
		if _, err := s.Resolve(context.Background(), "ghcr.io/org/img50:v1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreTagRemoveGC100(b *testing.B) {
	_, s := stFill100(b)
	ctx := context.Background()
	for b.Loop() {
		if err := s.TagRef(ctx, "ghcr.io/org/img50:v1", "localhost/tmp:v1"); err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(ctx, "localhost/tmp:v1"); err != nil {
			b.Fatal(err)
		}
	}
}

// What wrapping oras-go's oci.Store would cost: it loads (and indexes the
// graph of) index.json when opened, which would have to happen under the
// lock before every operation to see other processes' changes.
func BenchmarkOrasOCIOpen100(b *testing.B) {
	dir, _ := stFill100(b)
	for b.Loop() {
		if _, err := oci.New(dir); err != nil {
			b.Fatal(err)
		}
	}
}

package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ecc-bpf/ecc/registry/registrytest"
)

func TestOCILayoutTarget(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "layout")
	ref := mustParse(t, "oci:"+dir+":v1")

	// Reading a missing layout: not found, and nothing is created.
	target, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = target.Resolve(ctx, "v1")
	wantError(t, err, ErrNotFound, "", "oci:"+dir+":v1")
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

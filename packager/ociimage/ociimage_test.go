package ociimage_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/ociimage"
)

// tiny is a small static program for goarch: the image takes any static
// executable, and these build in seconds.
func tiny(t testing.TB, goarch string) string { return testenv.StaticProgram(t, goarch) }

// untar lists a gzip'd tar's headers and file contents.
func untar(t *testing.T, layer []byte) ([]*tar.Header, map[string][]byte, []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var hdrs []*tar.Header
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
		if h.Typeflag == tar.TypeReg {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
	return hdrs, files, raw
}

// The layer is the same bytes for the same input, its diff_id is the
// digest of the tar inside, and it holds exactly the documented layout.
func TestLayerReproducible(t *testing.T) {
	ecli := []byte("\x7fELF pretend ecli")
	ca := []byte("-----BEGIN CERTIFICATE-----\n")
	when := time.Unix(1700000000, 0)
	l1, d1, err := ociimage.Layer(ecli, ca, when)
	if err != nil {
		t.Fatal(err)
	}
	l2, d2, _ := ociimage.Layer(ecli, ca, when.In(time.FixedZone("x", 3600)))
	if !bytes.Equal(l1, l2) || d1 != d2 {
		t.Fatalf("two builds differ: %s %s, %s %s", digest.FromBytes(l1), d1, digest.FromBytes(l2), d2)
	}
	if l3, _, _ := ociimage.Layer(ecli, ca, when.Add(time.Second)); bytes.Equal(l1, l3) {
		t.Error("another date gives the same layer")
	}
	hdrs, files, raw := untar(t, l1)
	if got := digest.FromBytes(raw); got != d1 {
		t.Errorf("diff_id %s, the tar's digest is %s", d1, got)
	}
	want := []struct {
		name string
		mode int64
		dir  bool
	}{
		{"etc/", 0o755, true}, {"etc/ssl/", 0o755, true}, {"etc/ssl/certs/", 0o755, true},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, false},
		{"proc/", 0o555, true}, {"sys/", 0o555, true}, {"sys/fs/", 0o755, true}, {"sys/fs/bpf/", 0o755, true},
		{"tmp/", 0o1777, true},
		{"usr/", 0o755, true}, {"usr/local/", 0o755, true}, {"usr/local/bin/", 0o755, true},
		{"usr/local/bin/ecli", 0o755, false},
	}
	if len(hdrs) != len(want) {
		t.Fatalf("%d entries, want %d", len(hdrs), len(want))
	}
	for i, w := range want {
		h := hdrs[i]
		if h.Name != w.name || h.Mode != w.mode || (h.Typeflag == tar.TypeDir) != w.dir {
			t.Errorf("entry %d: %s %o dir=%v, want %s %o dir=%v", i, h.Name, h.Mode, h.Typeflag == tar.TypeDir, w.name, w.mode, w.dir)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(when) {
			t.Errorf("%s: owner %d:%d, mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
	}
	if !bytes.Equal(files["usr/local/bin/ecli"], ecli) || !bytes.Equal(files["etc/ssl/certs/ca-certificates.crt"], ca) {
		t.Error("file contents differ")
	}
	// Without a CA bundle there is no /etc.
	l4, _, _ := ociimage.Layer(ecli, nil, when)
	hdrs, _, _ = untar(t, l4)
	if hdrs[0].Name != "proc/" || len(hdrs) != len(want)-4 {
		t.Errorf("without CA certificates the layer starts with %s and has %d entries", hdrs[0].Name, len(hdrs))
	}
}

// blobs indexes an artifact's content by digest.
func blobs(art *packager.Artifact) map[digest.Digest][]byte {
	m := map[digest.Digest][]byte{}
	for _, b := range art.Blobs {
		m[b.Desc.Digest] = b.Data
	}
	return m
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func writeCA(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The index lists amd64 then arm64; each manifest's config names its
// platform, the entrypoint and the diff_id of its layer; two builds give
// the same digests.
func TestBuild(t *testing.T) {
	amd, arm := tiny(t, "amd64"), tiny(t, "arm64")
	when := time.Unix(1733400000, 0)
	o := &ociimage.Options{
		Binaries: []ociimage.Binary{{Path: arm, Platform: "linux/arm64"}, {Path: amd, Platform: "linux/amd64"}},
		CACerts:  writeCA(t),
		Created:  &when,
		Version:  "v1.2.3",
	}
	img, err := ociimage.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ociimage.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if img.Artifact.Root.Digest != again.Artifact.Root.Digest {
		t.Errorf("two builds: %s and %s", img.Artifact.Root.Digest, again.Artifact.Root.Digest)
	}
	art := img.Artifact
	if last := art.Blobs[len(art.Blobs)-1].Desc; last.Digest != art.Root.Digest || art.Root.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("root %v is not the last blob %v, or not an index", art.Root, last)
	}
	all := blobs(art)
	idx := decode[ocispec.Index](t, all[art.Root.Digest])
	if got := strings.Join(packager.Platforms(&idx), ","); got != "linux/amd64,linux/arm64" {
		t.Fatalf("index platforms %s", got)
	}
	if idx.Annotations[ocispec.AnnotationVersion] != "v1.2.3" || idx.Annotations[ocispec.AnnotationCreated] != "2024-12-05T12:00:00Z" ||
		idx.Annotations[ocispec.AnnotationSource] != ociimage.DefaultSource {
		t.Errorf("index annotations %v", idx.Annotations)
	}
	for i, md := range idx.Manifests {
		if md.MediaType != ocispec.MediaTypeImageManifest {
			t.Errorf("manifest %d: media type %s", i, md.MediaType)
		}
		man := decode[ocispec.Manifest](t, all[md.Digest])
		if man.Config.MediaType != ocispec.MediaTypeImageConfig || len(man.Layers) != 1 || man.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Fatalf("manifest %d: config %s, layers %v", i, man.Config.MediaType, man.Layers)
		}
		if man.Annotations[ocispec.AnnotationTitle] != "ecli" {
			t.Errorf("manifest %d: annotations %v", i, man.Annotations)
		}
		cfg := decode[ocispec.Image](t, all[man.Config.Digest])
		if cfg.OS != "linux" || cfg.Architecture != md.Platform.Architecture {
			t.Errorf("manifest %d (%s): config says %s/%s", i, md.Platform.Architecture, cfg.OS, cfg.Architecture)
		}
		if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/ecli" || strings.Join(cfg.Config.Env, " ") != "PATH=/usr/local/bin:/usr/bin:/bin" {
			t.Errorf("entrypoint %q, env %q", cfg.Config.Entrypoint, cfg.Config.Env)
		}
		if cfg.Created == nil || !cfg.Created.Equal(when) || len(cfg.History) != 1 {
			t.Errorf("created %v, history %v", cfg.Created, cfg.History)
		}
		layer := all[man.Layers[0].Digest]
		_, files, raw := untar(t, layer)
		if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != digest.FromBytes(raw) || cfg.RootFS.Type != "layers" {
			t.Errorf("diff_ids %v, the tar's digest is %s", cfg.RootFS.DiffIDs, digest.FromBytes(raw))
		}
		bin := map[string]string{"amd64": amd, "arm64": arm}[md.Platform.Architecture]
		want, _ := os.ReadFile(bin)
		if !bytes.Equal(files["usr/local/bin/ecli"], want) {
			t.Errorf("%s: the layer's ecli is not %s", md.Platform.Architecture, bin)
		}
		p := img.Platforms[i]
		if p.Platform != "linux/"+md.Platform.Architecture || p.Manifest != md.Digest || p.DiffID != cfg.RootFS.DiffIDs[0] || p.LayerSize != int64(len(layer)) {
			t.Errorf("platform %d: %+v", i, p)
		}
	}
}

// Without a date the image is dated the epoch, and the version is what Go
// stamped into the binary (none for a -trimpath build outside a module
// with a version: the annotation is left out).
func TestBuildDefaults(t *testing.T) {
	img, err := ociimage.Build(&ociimage.Options{Binaries: []ociimage.Binary{{Path: tiny(t, "amd64"), Platform: "linux/amd64"}}})
	if err != nil {
		t.Fatal(err)
	}
	all := blobs(img.Artifact)
	idx := decode[ocispec.Index](t, all[img.Artifact.Root.Digest])
	if len(idx.Manifests) != 1 || idx.Annotations[ocispec.AnnotationCreated] != "1970-01-01T00:00:00Z" {
		t.Errorf("index %+v", idx)
	}
	if _, ok := idx.Annotations[ocispec.AnnotationVersion]; ok {
		t.Errorf("a version for an unstamped binary: %v", idx.Annotations)
	}
	man := decode[ocispec.Manifest](t, all[idx.Manifests[0].Digest])
	hdrs, _, _ := untar(t, all[man.Layers[0].Digest])
	if hdrs[0].Name != "proc/" {
		t.Errorf("no CA bundle asked for, and the layer starts with %s", hdrs[0].Name)
	}
}

// Binaries for another machine, dynamically linked ones, files that are
// no ELF and unknown platforms are refused with one line naming the file.
func TestBuildRefuses(t *testing.T) {
	amd, arm := tiny(t, "amd64"), tiny(t, "arm64")
	notELF := filepath.Join(t.TempDir(), "ecli.sh")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	dynamic := ""
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if data, err := os.ReadFile(p); err == nil && ociimage.CheckBinary(p, data, "linux/amd64") != nil {
			dynamic = p
			break
		}
	}
	cases := []struct {
		name string
		bins []ociimage.Binary
		want string
		dyn  bool
	}{
		{"arm64 as amd64", []ociimage.Binary{{Path: arm, Platform: "linux/amd64"}}, arm + ": built for arm64, not for linux/amd64", false},
		{"amd64 as arm64", []ociimage.Binary{{Path: amd, Platform: "linux/amd64"}, {Path: amd, Platform: "linux/arm64"}}, amd + ": built for x86_64, not for linux/arm64", false},
		{"not ELF", []ociimage.Binary{{Path: notELF, Platform: "linux/amd64"}}, notELF + ": not an ELF executable", false},
		{"platform", []ociimage.Binary{{Path: amd, Platform: "linux/s390x"}}, `platform "linux/s390x": the ecli image is built for linux/amd64 and linux/arm64`, false},
		{"twice", []ociimage.Binary{{Path: amd, Platform: "linux/amd64"}, {Path: amd, Platform: "linux/amd64"}}, "are both for linux/amd64", false},
		{"none", nil, "no ecli binary", false},
		{"missing", []ociimage.Binary{{Path: "/nonexistent/ecli", Platform: "linux/amd64"}}, "/nonexistent/ecli: no such file", false},
	}
	if dynamic != "" {
		cases = append(cases, struct {
			name string
			bins []ociimage.Binary
			want string
			dyn  bool
		}{"dynamic", []ociimage.Binary{{Path: dynamic, Platform: "linux/amd64"}}, dynamic + ": dynamically linked (it depends on /lib", true})
	} else {
		t.Log("no dynamically linked /bin/true here; the dynamic case is not tested")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ociimage.Build(&ociimage.Options{Binaries: c.bins})
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line with %q", msg, c.want)
			}
			if errors.Is(err, ociimage.ErrDynamic) != c.dyn {
				t.Errorf("errors.Is(ErrDynamic) = %v", !c.dyn)
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	path := os.Getenv("ECC_BENCH_ECLI")
	if path == "" {
		path = tiny(b, "amd64")
	}
	ca := ""
	if _, err := os.Stat(ociimage.HostCACerts); err == nil {
		ca = ociimage.HostCACerts
	}
	o := &ociimage.Options{Binaries: []ociimage.Binary{{Path: path, Platform: "linux/amd64"}}, CACerts: ca}
	var size int64
	for b.Loop() {
		img, err := ociimage.Build(o)
		if err != nil {
			b.Fatal(err)
		}
		size = img.Platforms[0].LayerSize
	}
	b.ReportMetric(float64(size), "layer-bytes")
}

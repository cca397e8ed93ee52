package packager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"
)

func pushAll(t *testing.T, art *Artifact) *memory.Store {
	t.Helper()
	s := memory.New()
	for _, b := range art.Blobs {
		if ok, _ := s.Exists(context.Background(), b.Desc); ok {
			continue
		}
		if err := s.Push(context.Background(), b.Desc, bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func twoArch(t *testing.T) []PlatformPackage {
	x := &Package{Object: testObject(), Meta: testMeta()}
	x.Meta.Arch = "x86_64"
	a := &Package{Object: append(testObject(), 'a'), Meta: testMeta()}
	a.Meta.Arch = "arm64"
	return []PlatformPackage{{Package: x, Wasm: []byte("\x00asm\x01\x00\x00\x00")}, {Package: a}}
}

func TestArtifactRoundTrip(t *testing.T) {
	ctx := context.Background()
	art, err := NewArtifact(twoArch(t), ArtifactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if art.Root.MediaType != ocispec.MediaTypeImageIndex || art.Root.ArtifactType != ArtifactType {
		t.Fatalf("root %+v", art.Root)
	}
	s := pushAll(t, art)
	for _, c := range []struct{ platform, arch string }{{"linux/amd64", "x86_64"}, {"linux/arm64", "arm64"}} {
		d, err := SelectManifest(ctx, s, art.Root, c.platform)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := ReadManifest(ctx, s, d)
		if err != nil {
			t.Fatal(err)
		}
		if pp.Package.Meta.Arch != c.arch || pp.Platform != c.platform || pp.Name != "execsnoop" {
			t.Errorf("%s: arch %q platform %q name %q", c.platform, pp.Package.Meta.Arch, pp.Platform, pp.Name)
		}
		if (pp.Wasm != nil) != (c.arch == "x86_64") {
			t.Errorf("%s: wasm %v", c.platform, pp.Wasm != nil)
		}
	}
	// The manifest carries the layout DESIGN.md fixes.
	d, _ := SelectManifest(ctx, s, art.Root, "linux/amd64")
	raw, _ := s.Fetch(ctx, d)
	var man ocispec.Manifest
	json.NewDecoder(raw).Decode(&man)
	raw.Close()
	if man.ArtifactType != ArtifactType || man.Config.MediaType != MediaTypeConfig {
		t.Errorf("manifest %+v", man)
	}
	titles := map[string]string{}
	for _, l := range man.Layers {
		titles[l.MediaType] = l.Annotations[ocispec.AnnotationTitle]
	}
	if titles[MediaTypeObject] != "execsnoop.bpf.o" || titles[MediaTypeWasm] != "execsnoop.wasm" {
		t.Errorf("layer titles %v", titles)
	}
	if man.Annotations[ocispec.AnnotationVersion] != "0.1.0" || man.Annotations[ocispec.AnnotationDescription] != "trace exec" {
		t.Errorf("annotations %v", man.Annotations)
	}
	if _, ok := man.Annotations[ocispec.AnnotationCreated]; ok {
		t.Error("created set without SOURCE_DATE_EPOCH")
	}
	// Not there: a platform the index lacks.
	if _, err := SelectManifest(ctx, s, art.Root, "linux/riscv64"); !errors.Is(err, ErrNoPlatform) || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("missing platform: %v", err)
	}
}

func TestArtifactReproducible(t *testing.T) {
	a, _ := NewArtifact(twoArch(t), ArtifactOptions{})
	b, _ := NewArtifact(twoArch(t), ArtifactOptions{})
	if a.Root.Digest != b.Root.Digest {
		t.Fatal("same packages, different digests")
	}
	when := time.Unix(1700000000, 0)
	c, _ := NewArtifact(twoArch(t), ArtifactOptions{Created: &when})
	d, _ := NewArtifact(twoArch(t), ArtifactOptions{Created: &when})
	if c.Root.Digest != d.Root.Digest || c.Root.Digest == a.Root.Digest {
		t.Fatal("created must change the digest, reproducibly")
	}
}

// pushManifest stores a hand-made manifest and returns its descriptor.
func pushManifest(t *testing.T, s *memory.Store, config ocispec.Descriptor, layers ...ocispec.Descriptor) ocispec.Descriptor {
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: layers}
	data, _ := json.Marshal(&man)
	b := blob(ocispec.MediaTypeImageManifest, data, nil)
	s.Push(context.Background(), b.Desc, bytes.NewReader(data))
	return b.Desc
}

func pushBlob(s *memory.Store, mt string, data []byte) ocispec.Descriptor {
	b := blob(mt, data, nil)
	s.Push(context.Background(), b.Desc, bytes.NewReader(data))
	return b.Desc
}

// The one check of manifest media types: what a reference may name, and what
// a package's manifest (an index entry) may be.
func TestCheckManifestType(t *testing.T) {
	const (
		dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
		dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
		ociArtifact    = "application/vnd.oci.artifact.manifest.v1+json"
	)
	for _, c := range []struct {
		mediaType     string
		root, inIndex bool // accepted where a reference points, in an index
	}{
		{ocispec.MediaTypeImageManifest, true, true},
		{ocispec.MediaTypeImageIndex, true, false},
		{dockerManifest, false, false},
		{dockerList, false, false},
		{ociArtifact, false, false},
		{MediaTypeConfig, false, false},
		{MediaTypeObject, false, false},
		{MediaTypeWasm, false, false},
		{"application/vnd.oci.image.layer.v1.tar+gzip", false, false},
		{"application/json", false, false},
		{"", false, false},
	} {
		d := ocispec.Descriptor{MediaType: c.mediaType, Digest: digest.FromString(c.mediaType)}
		for _, where := range []struct {
			indexOK, want bool
		}{{true, c.root}, {false, c.inIndex}} {
			err := CheckManifestType(d, where.indexOK)
			if (err == nil) != where.want {
				t.Errorf("%q (index allowed %v): accepted %v, want %v (%v)", c.mediaType, where.indexOK, err == nil, where.want, err)
			}
			if err != nil && (!errors.Is(err, ErrUnknownMediaType) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.mediaType)) ||
				!strings.Contains(err.Error(), d.Digest.String())) {
				t.Errorf("%q: the error must wrap ErrUnknownMediaType and name the type and digest: %v", c.mediaType, err)
			}
		}
	}
}

// SelectManifest, ReadManifest and DecodeManifest refuse what
// CheckManifestType refuses: a Docker manifest list as the root, an index
// inside an index.
func TestSelectManifestRefusesTypes(t *testing.T) {
	ctx := context.Background()
	art, err := NewArtifact(twoArch(t), ArtifactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := pushAll(t, art)
	list := art.Root
	list.MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
	if _, err := SelectManifest(ctx, s, list, "linux/amd64"); !errors.Is(err, ErrUnknownMediaType) {
		t.Errorf("Docker manifest list: %v", err)
	}
	nested := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageIndex, Digest: art.Root.Digest, Size: art.Root.Size,
			Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}}}
	data, _ := json.Marshal(&nested)
	outer := pushBlob(s, ocispec.MediaTypeImageIndex, data)
	if _, err := SelectManifest(ctx, s, outer, "linux/amd64"); !errors.Is(err, ErrUnknownMediaType) || !strings.Contains(err.Error(), "index "+outer.Digest.String()) {
		t.Errorf("an index in an index: %v", err)
	}
	if _, err := ReadManifest(ctx, s, art.Root); !errors.Is(err, ErrUnknownMediaType) {
		t.Errorf("ReadManifest of an index: %v", err)
	}
	if _, err := DecodeManifest(art.Root, nil); !errors.Is(err, ErrUnknownMediaType) {
		t.Errorf("DecodeManifest of an index: %v", err)
	}
}

func TestReadManifestRefuses(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	m := testMeta()
	cfgData, _ := json.Marshal(&m)
	cfg := pushBlob(s, MediaTypeConfig, cfgData)
	obj := pushBlob(s, MediaTypeObject, testObject())

	unknown := pushManifest(t, s, cfg, obj, pushBlob(s, "application/x-mystery", []byte("?")))
	if _, err := ReadManifest(ctx, s, unknown); !errors.Is(err, ErrUnknownMediaType) || !strings.Contains(err.Error(), "application/x-mystery") {
		t.Errorf("unknown layer: %v", err)
	}
	badCfg := pushManifest(t, s, pushBlob(s, "application/vnd.oci.image.config.v1+json", []byte("{}")), obj)
	if _, err := ReadManifest(ctx, s, badCfg); !errors.Is(err, ErrUnknownMediaType) {
		t.Errorf("image config: %v", err)
	}
	huge := obj
	huge.Size = MaxObjectSize + 1
	tooBig := pushManifest(t, s, cfg, huge)
	if _, err := ReadManifest(ctx, s, tooBig); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized layer: %v", err)
	}
	noObj := pushManifest(t, s, cfg)
	if _, err := ReadManifest(ctx, s, noObj); err == nil || !strings.Contains(err.Error(), "no BPF object") {
		t.Errorf("no object: %v", err)
	}
	// A registry that serves bytes which do not match the digest.
	corrupt := pushManifest(t, s, cfg, obj)
	if _, err := ReadManifest(ctx, lyingFetcher{s, obj.Digest}, corrupt); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("corrupted layer: %v", err)
	}
}

// lyingFetcher serves flipped bytes for one digest, as a corrupted registry would.
type lyingFetcher struct {
	*memory.Store
	bad digest.Digest
}

func (l lyingFetcher) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := l.Store.Fetch(ctx, d)
	if err != nil || d.Digest != l.bad {
		return rc, err
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	data[len(data)-1] ^= 0xff
	return io.NopCloser(bytes.NewReader(data)), nil
}

func TestEunomiaWasmShape(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	wasm := []byte("\x00asm\x01\x00\x00\x00rest")
	l := pushBlob(s, MediaTypeWasm, wasm)
	l.Annotations = map[string]string{ocispec.AnnotationTitle: "app.wasm"}
	d := pushManifest(t, s, pushBlob(s, MediaTypeWasmConfig, []byte("{}")), l)
	pp, err := ReadManifest(ctx, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if pp.Package != nil || !bytes.Equal(pp.Wasm, wasm) || pp.Name != "app" {
		t.Fatalf("%+v", pp)
	}
}

// Titles that are not plain names never name files; the package's own
// name does, else "package".
func TestDecodeManifestNames(t *testing.T) {
	ctx := context.Background()
	for title, want := range map[string]string{
		"probe": "probe", "exec-snoop.v2": "exec-snoop.v2", "../../evil": "execsnoop", "/tmp/abs/evil": "execsnoop",
		"a/b": "execsnoop", ".": "execsnoop", "..": "execsnoop", "evil\x00": "execsnoop", "e\nvil": "execsnoop", "": "execsnoop",
	} {
		s := memory.New()
		m := testMeta()
		cfgData, _ := json.Marshal(&m)
		man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: pushBlob(s, MediaTypeConfig, cfgData), Layers: []ocispec.Descriptor{pushBlob(s, MediaTypeObject, testObject())},
			Annotations: map[string]string{ocispec.AnnotationTitle: title}}
		data, _ := json.Marshal(&man)
		d := pushBlob(s, ocispec.MediaTypeImageManifest, data)
		pp, err := ReadManifest(ctx, s, d)
		if err != nil || pp.Name != want {
			t.Errorf("title %q: name %q, %v; want %q", title, pp.Name, err, want)
		}
	}
	if ValidName("a/b") || ValidName(strings.Repeat("a", MaxNameLength+1)) || !ValidName(strings.Repeat("a", MaxNameLength)) {
		t.Error("ValidName")
	}
}

func manifestSeeds(f *testing.F) {
	art, err := NewArtifact(twoArch(&testing.T{}), ArtifactOptions{})
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range art.Blobs {
		if b.Desc.MediaType == ocispec.MediaTypeImageManifest || b.Desc.MediaType == ocispec.MediaTypeImageIndex {
			f.Add(b.Data)
		}
	}
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.wasm.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":-1,"annotations":{"org.opencontainers.image.title":"../x.wasm"}}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../x","size":1}]}`))
}

// FuzzDecodeManifest: whatever a registry sends as a manifest, decoding
// does not panic, and what it accepts keeps the package's shape.
func FuzzDecodeManifest(f *testing.F) {
	manifestSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(data), Size: int64(len(data))}
		m, err := DecodeManifest(desc, data)
		if err != nil {
			return
		}
		if m.Name != "" && !ValidName(m.Name) {
			t.Fatalf("name %q", m.Name)
		}
		if (m.Object == nil) != m.Eunomia() {
			t.Fatalf("object %v eunomia %v", m.Object, m.Eunomia())
		}
		for _, b := range m.Blobs() {
			if b.Digest.Validate() != nil || b.Size < 0 {
				t.Fatalf("blob %+v", b)
			}
		}
		if len(m.Blobs()) > 1+MaxLayers || m.Size() < 0 {
			t.Fatalf("%d blobs, %d bytes", len(m.Blobs()), m.Size())
		}
	})
}

// FuzzDecodeIndex: whatever a registry sends as an index, decoding and
// choosing a platform do not panic, and entries have valid digests.
func FuzzDecodeIndex(f *testing.F) {
	manifestSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(data), Size: int64(len(data))}
		idx, err := DecodeIndex(desc, data)
		if err != nil {
			return
		}
		for _, m := range idx.Manifests {
			if m.Digest.Validate() != nil || m.Size < 0 || m.Size > MaxManifestSize {
				t.Fatalf("entry %+v", m)
			}
		}
		SelectPlatform(idx, "linux/amd64")
		SelectPlatform(idx, "")
	})
}

// Small metadata travels in the manifest too (the config descriptor's
// data); a manifest whose embedded data does not match is refused.
func TestEmbeddedConfig(t *testing.T) {
	art, err := NewArtifact(twoArch(t), ArtifactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range art.Blobs {
		if b.Desc.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		m, err := DecodeManifest(b.Desc, b.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.Data == nil || digest.FromBytes(m.Config.Data) != m.Config.Digest {
			t.Fatalf("config not embedded: %+v", m.Config)
		}
		var man ocispec.Manifest
		json.Unmarshal(b.Data, &man)
		man.Config.Data = append([]byte(nil), man.Config.Data...)
		man.Config.Data[0] ^= 1
		bad, _ := json.Marshal(&man)
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(bad), Size: int64(len(bad))}
		if _, err := DecodeManifest(d, bad); err == nil || !strings.Contains(err.Error(), "the config's embedded data does not match its digest") {
			t.Errorf("tampered data: %v", err)
		}
	}
}

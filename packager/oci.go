package packager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Media types of a package on a registry (docs/format.md, "OCI artifact").
const (
	// ArtifactType marks manifests and indexes of ecc packages.
	ArtifactType = "application/vnd.ecc.package.v1"
	// MediaTypeConfig is the metadata JSON (what NAME.skel.json holds).
	MediaTypeConfig = "application/vnd.ecc.package.config.v1+json"
	// MediaTypeObject is the BPF ELF object, raw.
	MediaTypeObject = "application/vnd.ecc.bpf.object.v1+elf"
	// MediaTypeWasm is a Wasm module (the type eunomia-bpf and the wasm
	// OCI conventions use).
	MediaTypeWasm = "application/vnd.wasm.content.layer.v1+wasm"
	// MediaTypeBTF is a tar of BTF files for kernels without BTF.
	MediaTypeBTF = "application/vnd.ecc.btf.v1+tar"
	// MediaTypeWasmConfig is the config of eunomia's Wasm artifacts.
	MediaTypeWasmConfig = "application/vnd.wasm.config.v1+json"
)

// Size caps for what a registry hands us.
const (
	MaxManifestSize = 4 << 20
	MaxConfigSize   = 16 << 20
	MaxWasmSize     = 256 << 20
	MaxBTFSize      = 256 << 20
)

// ErrUnknownMediaType is wrapped by errors about content ecc does not know.
var ErrUnknownMediaType = errors.New("unknown media type")

// ErrNoPlatform is wrapped when an index has no manifest for the platform.
var ErrNoPlatform = errors.New("no package for this platform")

// PlatformPackage is one architecture's share of an artifact.
type PlatformPackage struct {
	// Package is the object and metadata (nil for a Wasm-only artifact in
	// eunomia's shape).
	Package *Package
	// Wasm is an optional Wasm module; BTF an optional BTF archive.
	Wasm, BTF []byte
	// Name is the file name stem (NAME of NAME.bpf.o).
	Name string
	// Platform is "linux/amd64"-style.
	Platform string
}

// Blob is a piece of content with its descriptor.
type Blob struct {
	Desc ocispec.Descriptor
	Data []byte
}

// Artifact is a package laid out as OCI content: an index with one manifest
// per architecture. Blobs are in push order (layers and configs, then
// manifests, then the index).
type Artifact struct {
	Root  ocispec.Descriptor
	Blobs []Blob
}

// ArtifactOptions tune NewArtifact.
type ArtifactOptions struct {
	// Created stamps org.opencontainers.image.created; nil leaves it out,
	// so identical packages give identical digests. The CLI sets it from
	// SOURCE_DATE_EPOCH.
	Created *time.Time
}

// OCIArch maps a kernel architecture name to the OCI platform one.
func OCIArch(kernel string) string {
	switch kernel {
	case "x86_64", "amd64":
		return "amd64"
	case "arm64", "aarch64":
		return "arm64"
	case "riscv64":
		return "riscv64"
	case "s390x":
		return "s390x"
	case "ppc64le":
		return "ppc64le"
	case "loongarch64":
		return "loong64"
	case "arm":
		return "arm"
	}
	return runtime.GOARCH
}

// HostPlatform is linux/GOARCH.
func HostPlatform() string { return "linux/" + runtime.GOARCH }

func blob(mediaType string, data []byte, annotations map[string]string) Blob {
	return Blob{Desc: ocispec.Descriptor{
		MediaType:   mediaType,
		Digest:      digest.FromBytes(data),
		Size:        int64(len(data)),
		Annotations: annotations,
	}, Data: data}
}

// annotations derived from the metadata for manifests and the index.
func metaAnnotations(m *Meta, name string, created *time.Time) map[string]string {
	a := map[string]string{ocispec.AnnotationTitle: name}
	if d := m.BpfSkel.Doc; d != nil {
		if d.Version != "" {
			a[ocispec.AnnotationVersion] = d.Version
		}
		if desc := firstNonEmpty(d.Brief, d.Description); desc != "" {
			a[ocispec.AnnotationDescription] = desc
		}
	}
	if created != nil {
		a[ocispec.AnnotationCreated] = created.UTC().Format(time.RFC3339)
	}
	return a
}

// NewArtifact lays packages out for a registry: per package a manifest
// (artifactType ArtifactType, the metadata as config, raw layers with
// titles), and an index over them with each one's platform.
func NewArtifact(pkgs []PlatformPackage, opts ArtifactOptions) (*Artifact, error) {
	if len(pkgs) == 0 {
		return nil, errors.New("no package to lay out")
	}
	art := &Artifact{}
	var manifests []ocispec.Descriptor
	seen := map[string]bool{}
	var indexAnn map[string]string
	for _, pp := range pkgs {
		if pp.Package == nil {
			return nil, errors.New("a platform package has no BPF package")
		}
		p := pp.Package
		if err := p.Validate(); err != nil {
			return nil, err
		}
		name := pp.Name
		if name == "" {
			name = strings.TrimSuffix(p.Meta.BpfSkel.ObjName, "_bpf")
		}
		platform := pp.Platform
		if platform == "" {
			platform = "linux/" + OCIArch(p.Meta.Arch)
		}
		if seen[platform] {
			return nil, fmt.Errorf("two packages for platform %s", platform)
		}
		seen[platform] = true
		meta := p.Meta
		meta.FillDefaults()
		cfgData, err := json.Marshal(&meta)
		if err != nil {
			return nil, err
		}
		cfg := blob(MediaTypeConfig, cfgData, nil)
		layers := []Blob{blob(MediaTypeObject, p.Object, map[string]string{ocispec.AnnotationTitle: name + ".bpf.o"})}
		if pp.Wasm != nil {
			layers = append(layers, blob(MediaTypeWasm, pp.Wasm, map[string]string{ocispec.AnnotationTitle: name + ".wasm"}))
		}
		if pp.BTF != nil {
			layers = append(layers, blob(MediaTypeBTF, pp.BTF, map[string]string{ocispec.AnnotationTitle: name + ".btf.tar"}))
		}
		ann := metaAnnotations(&meta, name, opts.Created)
		if indexAnn == nil {
			indexAnn = ann
		}
		man := ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: ArtifactType,
			Config:       cfg.Desc,
			Annotations:  ann,
		}
		for _, l := range layers {
			man.Layers = append(man.Layers, l.Desc)
		}
		manData, err := json.Marshal(&man)
		if err != nil {
			return nil, err
		}
		manBlob := blob(ocispec.MediaTypeImageManifest, manData, nil)
		os, arch, _ := strings.Cut(platform, "/")
		d := manBlob.Desc
		d.ArtifactType = ArtifactType
		d.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		manifests = append(manifests, d)
		art.Blobs = append(art.Blobs, layers...)
		art.Blobs = append(art.Blobs, cfg, manBlob)
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		return manifests[i].Platform.Architecture < manifests[j].Platform.Architecture
	})
	idx := ocispec.Index{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageIndex,
		ArtifactType: ArtifactType,
		Manifests:    manifests,
		Annotations:  indexAnn,
	}
	idxData, err := json.Marshal(&idx)
	if err != nil {
		return nil, err
	}
	root := blob(ocispec.MediaTypeImageIndex, idxData, nil)
	root.Desc.ArtifactType = ArtifactType
	art.Blobs = append(art.Blobs, root)
	art.Root = root.Desc
	return art, nil
}

// fetchCapped fetches a blob whose descriptor declares at most max bytes;
// oras-go's ReadAll verifies size and digest.
func fetchCapped(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, max int64, what string) ([]byte, error) {
	if desc.Size < 0 || desc.Size > max {
		return nil, fmt.Errorf("%s %s is %d bytes, more than the %d allowed", what, desc.Digest, desc.Size, max)
	}
	data, err := content.FetchAll(ctx, f, desc)
	if err != nil {
		return nil, fmt.Errorf("fetch %s %s: %w", what, desc.Digest, err)
	}
	return data, nil
}

// Platforms lists the platforms of an index ("linux/amd64", ...).
func Platforms(idx *ocispec.Index) []string {
	var out []string
	for _, m := range idx.Manifests {
		if m.Platform != nil {
			out = append(out, m.Platform.OS+"/"+m.Platform.Architecture)
		}
	}
	return out
}

// SelectManifest picks the manifest for platform ("" means the host's) from
// root, which is an index or already a manifest.
func SelectManifest(ctx context.Context, f content.Fetcher, root ocispec.Descriptor, platform string) (ocispec.Descriptor, error) {
	if platform == "" {
		platform = HostPlatform()
	}
	switch root.MediaType {
	case ocispec.MediaTypeImageManifest:
		return root, nil
	case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
	default:
		return ocispec.Descriptor{}, fmt.Errorf("%w: %q for %s (not an OCI manifest or index)", ErrUnknownMediaType, root.MediaType, root.Digest)
	}
	data, err := fetchCapped(ctx, f, root, MaxManifestSize, "index")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("index %s: %w", root.Digest, err)
	}
	os, arch, _ := strings.Cut(platform, "/")
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == os && m.Platform.Architecture == arch {
			return m, nil
		}
	}
	// An index entry without a platform serves every platform.
	if len(idx.Manifests) == 1 && idx.Manifests[0].Platform == nil {
		return idx.Manifests[0], nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("%w %s: the artifact has %s; choose one with --platform", ErrNoPlatform, platform, strings.Join(Platforms(&idx), ", "))
}

// ReadManifest fetches and checks a package manifest and returns the
// platform package it describes: ecc's shape (metadata config, object layer,
// optional Wasm and BTF layers) or eunomia's Wasm shape (Wasm config, one
// Wasm layer). Unknown media types are refused, naming them.
func ReadManifest(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (*PlatformPackage, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("%w: %q for manifest %s", ErrUnknownMediaType, desc.MediaType, desc.Digest)
	}
	data, err := fetchCapped(ctx, f, desc, MaxManifestSize, "manifest")
	if err != nil {
		return nil, err
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	pp := &PlatformPackage{}
	if desc.Platform != nil {
		pp.Platform = desc.Platform.OS + "/" + desc.Platform.Architecture
	}
	pp.Name = man.Annotations[ocispec.AnnotationTitle]
	switch man.Config.MediaType {
	case MediaTypeConfig:
	case MediaTypeWasmConfig:
		return readWasmManifest(ctx, f, &man, pp)
	default:
		return nil, fmt.Errorf("%w: config %q in manifest %s (not an ecc or Wasm package)", ErrUnknownMediaType, man.Config.MediaType, desc.Digest)
	}
	cfg, err := fetchCapped(ctx, f, man.Config, MaxConfigSize, "config")
	if err != nil {
		return nil, err
	}
	meta, err := UnmarshalMeta(cfg)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", man.Config.Digest, err)
	}
	var obj []byte
	for _, l := range man.Layers {
		switch l.MediaType {
		case MediaTypeObject:
			if obj, err = fetchCapped(ctx, f, l, MaxObjectSize, "BPF object"); err != nil {
				return nil, err
			}
		case MediaTypeWasm:
			if pp.Wasm, err = fetchCapped(ctx, f, l, MaxWasmSize, "Wasm module"); err != nil {
				return nil, err
			}
		case MediaTypeBTF:
			if pp.BTF, err = fetchCapped(ctx, f, l, MaxBTFSize, "BTF archive"); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: layer %q (%s) in manifest %s", ErrUnknownMediaType, l.MediaType, l.Digest, desc.Digest)
		}
	}
	if obj == nil {
		return nil, fmt.Errorf("manifest %s has no BPF object layer (%s)", desc.Digest, MediaTypeObject)
	}
	pp.Package = &Package{Object: obj, Meta: *meta}
	if err := pp.Package.Validate(); err != nil {
		return nil, err
	}
	if pp.Name == "" {
		pp.Name = strings.TrimSuffix(meta.BpfSkel.ObjName, "_bpf")
	}
	return pp, nil
}

func readWasmManifest(ctx context.Context, f content.Fetcher, man *ocispec.Manifest, pp *PlatformPackage) (*PlatformPackage, error) {
	for _, l := range man.Layers {
		if l.MediaType != MediaTypeWasm {
			return nil, fmt.Errorf("%w: layer %q in a Wasm artifact", ErrUnknownMediaType, l.MediaType)
		}
		data, err := fetchCapped(ctx, f, l, MaxWasmSize, "Wasm module")
		if err != nil {
			return nil, err
		}
		if !bytes.HasPrefix(data, []byte("\x00asm")) {
			return nil, fmt.Errorf("layer %s is not a Wasm module", l.Digest)
		}
		pp.Wasm = data
		if t := l.Annotations[ocispec.AnnotationTitle]; t != "" && pp.Name == "" {
			pp.Name = strings.TrimSuffix(t, ".wasm")
		}
	}
	if pp.Wasm == nil {
		return nil, errors.New("Wasm artifact without a Wasm layer")
	}
	return pp, nil
}

// NewWasmArtifact lays a Wasm module out in eunomia-bpf's shape: one
// manifest with an empty Wasm config and the module as its only layer,
// which eunomia's ecli (and ecc's) runs.
func NewWasmArtifact(wasm []byte, name string) (*Artifact, error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, errors.New("not a Wasm module")
	}
	if name == "" {
		name = "app"
	}
	cfg := blob(MediaTypeWasmConfig, []byte("{}"), nil)
	layer := blob(MediaTypeWasm, wasm, map[string]string{ocispec.AnnotationTitle: name + ".wasm"})
	man := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfg.Desc,
		Layers:    []ocispec.Descriptor{layer.Desc},
	}
	data, err := json.Marshal(&man)
	if err != nil {
		return nil, err
	}
	root := blob(ocispec.MediaTypeImageManifest, data, nil)
	return &Artifact{Root: root.Desc, Blobs: []Blob{layer, cfg, root}}, nil
}

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

// Size caps for what a registry hands us. MaxManifestSize is the limit
// oras-go (and common registries) apply to manifests. The Wasm
// and BTF ceilings are absolute; pulls apply a lower total by default
// (registry.Limits.MaxBytes, --max-bytes). Objects are capped by
// MaxObjectSize, as in package.json.
const (
	MaxManifestSize = 4 << 20
	MaxConfigSize   = 16 << 20
	MaxWasmSize     = 1 << 30
	MaxBTFSize      = 1 << 30
)

// MaxEmbeddedConfig is the largest metadata NewArtifact also embeds in the
// manifest (the config descriptor's "data", OCI image-spec 1.1), so that a
// pull needs no request for it.
const MaxEmbeddedConfig = 16 << 10

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
		if len(cfgData) <= MaxEmbeddedConfig {
			// Pulls read it from the manifest and skip a round trip;
			// the blob is pushed too, for clients that ignore "data".
			cfg.Desc.Data = cfgData
		}
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

// CheckManifestType is the one check of manifest media types, shared by
// pulls, by reads from the local store (ecli run, ecc inspect: Load,
// SelectManifest) and by DecodeManifest and ReadManifest, so that all of
// them accept the same artifacts. What a reference names (indexOK) may be
// an OCI image index or an OCI image manifest; a package's manifest (an
// index entry, or what DecodeManifest reads) must be an OCI image manifest.
// Anything else (Docker manifests and manifest lists, OCI artifact
// manifests, an index inside an index, a config or layer) is refused with
// an error wrapping ErrUnknownMediaType that names the type.
func CheckManifestType(d ocispec.Descriptor, indexOK bool) error {
	switch {
	case d.MediaType == ocispec.MediaTypeImageManifest:
		return nil
	case indexOK && d.MediaType == ocispec.MediaTypeImageIndex:
		return nil
	case indexOK:
		return fmt.Errorf("%w: %q for %s (not an OCI image manifest or index)", ErrUnknownMediaType, d.MediaType, d.Digest)
	}
	return fmt.Errorf("%w: %q for %s (not an OCI image manifest; a package has one per platform)", ErrUnknownMediaType, d.MediaType, d.Digest)
}

// checkDescriptor checks a descriptor read from a manifest or index: a
// digest that parses (so it can never name a path), a size in [0, max].
func checkDescriptor(d ocispec.Descriptor, max int64, what, in string) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("%s: %s has an invalid digest %q", in, what, d.Digest)
	}
	if d.Size < 0 || d.Size > max {
		return fmt.Errorf("%s: %s %s is %d bytes, more than the %d allowed", in, what, d.Digest, d.Size, max)
	}
	return nil
}

// decodeDoc parses data, an index or a manifest (named in) that a
// registry sent for desc, into v: at most MaxManifestSize bytes of JSON,
// schemaVersion 2 (read into *version) and a mediaType (read into
// *mediaType) that, when present, agrees with desc's.
func decodeDoc(in string, desc ocispec.Descriptor, data []byte, v any, version *specs.Versioned, mediaType *string) error {
	if len(data) > MaxManifestSize {
		return fmt.Errorf("%s is %d bytes, more than the %d bytes a manifest may have", in, len(data), MaxManifestSize)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if version.SchemaVersion != 2 {
		return fmt.Errorf("%s: schemaVersion %d, not 2", in, version.SchemaVersion)
	}
	if *mediaType != "" && *mediaType != desc.MediaType {
		return fmt.Errorf("%s: its mediaType %q differs from the %q it was served as", in, *mediaType, desc.MediaType)
	}
	return nil
}

// DecodeIndex parses an image index that a registry sent as data for desc:
// at most MaxManifestSize bytes of JSON, a mediaType (when present) that
// agrees with desc's, and entries whose digests parse and whose sizes are
// within MaxManifestSize. It does not bound the number of entries; callers
// do (registry.Limits.MaxManifests).
func DecodeIndex(desc ocispec.Descriptor, data []byte) (*ocispec.Index, error) {
	in := "index " + desc.Digest.String()
	var idx ocispec.Index
	if err := decodeDoc(in, desc, data, &idx, &idx.Versioned, &idx.MediaType); err != nil {
		return nil, err
	}
	for i, m := range idx.Manifests {
		if err := checkDescriptor(m, MaxManifestSize, fmt.Sprintf("manifest %d", i), in); err != nil {
			return nil, err
		}
	}
	return &idx, nil
}

// SelectPlatform picks the entry for platform ("" means the host's) from an
// index. An index of one entry without a platform serves every platform.
func SelectPlatform(idx *ocispec.Index, platform string) (ocispec.Descriptor, error) {
	if platform == "" {
		platform = HostPlatform()
	}
	os, arch, _ := strings.Cut(platform, "/")
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == os && m.Platform.Architecture == arch {
			return m, nil
		}
	}
	if len(idx.Manifests) == 1 && idx.Manifests[0].Platform == nil {
		return idx.Manifests[0], nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("%w %s: the artifact has %s; choose one with --platform", ErrNoPlatform, platform, strings.Join(Platforms(idx), ", "))
}

// SelectManifest picks the manifest for platform ("" means the host's) from
// root, which is an index or already a manifest (CheckManifestType).
func SelectManifest(ctx context.Context, f content.Fetcher, root ocispec.Descriptor, platform string) (ocispec.Descriptor, error) {
	if err := CheckManifestType(root, true); err != nil {
		return ocispec.Descriptor{}, err
	}
	if root.MediaType == ocispec.MediaTypeImageManifest {
		return root, nil
	}
	data, err := fetchCapped(ctx, f, root, MaxManifestSize, "index")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	idx, err := DecodeIndex(root, data)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d, err := SelectPlatform(idx, platform)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := CheckManifestType(d, false); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("index %s: %w", root.Digest, err)
	}
	return d, nil
}

// MaxLayers is the most layers a package manifest has: one BPF object, one
// Wasm module and one BTF archive.
const MaxLayers = 3

// PackageManifest is a checked package manifest: what a pull fetches and
// how the package's files are named.
type PackageManifest struct {
	// Desc is the manifest's own descriptor (with the index entry's
	// platform, when it came from an index).
	Desc ocispec.Descriptor
	// Config is the metadata (MediaTypeConfig), or eunomia's Wasm config.
	Config ocispec.Descriptor
	// Object, Wasm and BTF are the layers; Object is nil in eunomia's Wasm
	// shape, Wasm and BTF when absent.
	Object, Wasm, BTF *ocispec.Descriptor
	// Name is the package name from the titles when it is a plain name
	// (ValidName); else empty, and RefusedName holds the title refused.
	Name, RefusedName string
	// Platform is "linux/amd64"-style, from the index entry ("" without).
	Platform string
}

// Eunomia reports whether the manifest has eunomia-bpf's Wasm shape (a Wasm
// config and one Wasm layer).
func (m *PackageManifest) Eunomia() bool { return m.Config.MediaType == MediaTypeWasmConfig }

// Blobs lists the config and the layers.
func (m *PackageManifest) Blobs() []ocispec.Descriptor {
	out := []ocispec.Descriptor{m.Config}
	for _, l := range []*ocispec.Descriptor{m.Object, m.Wasm, m.BTF} {
		if l != nil {
			out = append(out, *l)
		}
	}
	return out
}

// Size is the total size of the config and the layers.
func (m *PackageManifest) Size() int64 {
	var n int64
	for _, b := range m.Blobs() {
		n += b.Size
	}
	return n
}

// DecodeManifest parses and checks a package manifest that a registry sent
// as data for desc: at most MaxManifestSize bytes, an ecc config (or
// eunomia's Wasm config), only layer types ecc knows, at most one BPF
// object, one Wasm module and one BTF archive (eunomia's shape: exactly one
// Wasm module), valid digests and sizes within the caps. Titles that are
// not plain names (ValidName) are not used.
func DecodeManifest(desc ocispec.Descriptor, data []byte) (*PackageManifest, error) {
	in := "manifest " + desc.Digest.String()
	if err := CheckManifestType(desc, false); err != nil {
		return nil, err
	}
	var man ocispec.Manifest
	if err := decodeDoc(in, desc, data, &man, &man.Versioned, &man.MediaType); err != nil {
		return nil, err
	}
	m := &PackageManifest{Desc: desc, Config: man.Config}
	if desc.Platform != nil {
		m.Platform = desc.Platform.OS + "/" + desc.Platform.Architecture
	}
	switch man.Config.MediaType {
	case MediaTypeConfig, MediaTypeWasmConfig:
	default:
		return nil, fmt.Errorf("%w: config %q in %s (not an ecc or Wasm package)", ErrUnknownMediaType, man.Config.MediaType, in)
	}
	if err := checkDescriptor(man.Config, MaxConfigSize, "the config", in); err != nil {
		return nil, err
	}
	if d := man.Config.Data; d != nil && (int64(len(d)) != man.Config.Size || digest.FromBytes(d) != man.Config.Digest) {
		return nil, fmt.Errorf("%s: the config's embedded data does not match its digest %s and size %d", in, man.Config.Digest, man.Config.Size)
	}
	if len(man.Layers) > MaxLayers {
		return nil, fmt.Errorf("%s lists %d layers; a package has at most %d (a BPF object, a Wasm module, a BTF archive)", in, len(man.Layers), MaxLayers)
	}
	for i := range man.Layers {
		l := &man.Layers[i]
		var slot **ocispec.Descriptor
		var max int64
		var what string
		switch l.MediaType {
		case MediaTypeObject:
			slot, max, what = &m.Object, MaxObjectSize, "BPF object"
		case MediaTypeWasm:
			slot, max, what = &m.Wasm, MaxWasmSize, "Wasm module"
		case MediaTypeBTF:
			slot, max, what = &m.BTF, MaxBTFSize, "BTF archive"
		default:
			return nil, fmt.Errorf("%w: layer %q (%s) in %s; ecc reads %s, %s and %s layers",
				ErrUnknownMediaType, l.MediaType, l.Digest, in, MediaTypeObject, MediaTypeWasm, MediaTypeBTF)
		}
		if *slot != nil {
			return nil, fmt.Errorf("%s has two %s layers (%s); a package has at most one", in, what, l.MediaType)
		}
		if err := checkDescriptor(*l, max, what, in); err != nil {
			return nil, err
		}
		*slot = l
	}
	title := man.Annotations[ocispec.AnnotationTitle]
	if m.Eunomia() {
		if m.Wasm == nil || m.Object != nil || m.BTF != nil {
			return nil, fmt.Errorf("%w: %s has a Wasm config but not exactly one Wasm layer", ErrUnknownMediaType, in)
		}
		if title == "" {
			if t, ok := m.Wasm.Annotations[ocispec.AnnotationTitle]; ok {
				title = strings.TrimSuffix(t, ".wasm")
				if title == "" {
					title = t
				}
			}
		}
	} else if m.Object == nil {
		return nil, fmt.Errorf("%s has no BPF object layer (%s)", in, MediaTypeObject)
	}
	if ValidName(title) {
		m.Name = title
	} else {
		m.RefusedName = title
	}
	return m, nil
}

// ReadOptions say which large layers ReadPackage reads into memory.
type ReadOptions struct {
	// Wasm reads the Wasm module into PlatformPackage.Wasm.
	Wasm bool
	// BTF reads the BTF archive into PlatformPackage.BTF.
	BTF bool
}

// ReadPackage fetches the blobs of a checked manifest from f (verifying
// sizes and digests) and returns its platform package: the metadata and
// BPF object always, the Wasm module and BTF archive as o asks. Its Name is
// the manifest's when plain, else the metadata's object name when plain,
// else "package".
func ReadPackage(ctx context.Context, f content.Fetcher, m *PackageManifest, o ReadOptions) (*PlatformPackage, error) {
	pp := &PlatformPackage{Platform: m.Platform, Name: m.Name}
	var err error
	if m.Wasm != nil && o.Wasm {
		if pp.Wasm, err = fetchCapped(ctx, f, *m.Wasm, MaxWasmSize, "Wasm module"); err != nil {
			return nil, err
		}
		if !bytes.HasPrefix(pp.Wasm, []byte("\x00asm")) {
			return nil, fmt.Errorf("layer %s of manifest %s is not a Wasm module", m.Wasm.Digest, m.Desc.Digest)
		}
	}
	if m.Eunomia() {
		if pp.Name == "" {
			pp.Name = "package"
		}
		return pp, nil
	}
	cfg, err := fetchCapped(ctx, f, m.Config, MaxConfigSize, "config")
	if err != nil {
		return nil, err
	}
	meta, err := UnmarshalMeta(cfg)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	obj, err := fetchCapped(ctx, f, *m.Object, MaxObjectSize, "BPF object")
	if err != nil {
		return nil, err
	}
	if m.BTF != nil && o.BTF {
		if pp.BTF, err = fetchCapped(ctx, f, *m.BTF, MaxBTFSize, "BTF archive"); err != nil {
			return nil, err
		}
	}
	pp.Package = &Package{Object: obj, Meta: *meta}
	if err := pp.Package.Validate(); err != nil {
		return nil, err
	}
	if pp.Name == "" {
		pp.Name = "package"
		if n := strings.TrimSuffix(meta.BpfSkel.ObjName, "_bpf"); ValidName(n) {
			pp.Name = n
		}
	}
	return pp, nil
}

// ReadManifest fetches and checks a package manifest (DecodeManifest) and
// returns the platform package it describes, every layer read
// (ReadPackage). Unknown media types are refused, naming them.
func ReadManifest(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (*PlatformPackage, error) {
	if err := CheckManifestType(desc, false); err != nil {
		return nil, err
	}
	data, err := fetchCapped(ctx, f, desc, MaxManifestSize, "manifest")
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(desc, data)
	if err != nil {
		return nil, err
	}
	return ReadPackage(ctx, f, m, ReadOptions{Wasm: true, BTF: true})
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

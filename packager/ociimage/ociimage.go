// Package ociimage lays out the ecli container image without Docker: a
// static ecli per platform in one reproducible tar.gz layer, an OCI image
// config, a manifest per platform and an index over them, as a
// packager.Artifact that registry.PushArtifact sends anywhere a package
// goes (a registry, oci:DIR, oci-archive:FILE).
//
// The layer holds, and nothing else:
//
//	/etc/ssl/certs/ca-certificates.crt   0644  the build host's CA bundle (when given)
//	/proc/, /sys/, /sys/fs/bpf/           0555, 0555, 0755  mount points
//	/tmp/                                 1777
//	/usr/local/bin/ecli                   0755  the static ecli
//
// Every entry is owned by 0:0 and dated Options.Created (SOURCE_DATE_EPOCH,
// else the Unix epoch), so the same binaries give the same digests. The
// image runs ["/usr/local/bin/ecli"] with PATH=/usr/local/bin:/usr/bin:/bin.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/packager"
)

// Where things are in the image. Deployments (ecc deploy's DaemonSet)
// rely on EcliPath.
const (
	EcliPath    = "/usr/local/bin/ecli"
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// PathEnv is the image's PATH.
	PathEnv = "PATH=/usr/local/bin:/usr/bin:/bin"
	// HostCACerts is the CA bundle of Debian-like build hosts, the default
	// of the CLI's --ca-certs.
	HostCACerts = "/etc/ssl/certs/ca-certificates.crt"
	// DefaultSource is org.opencontainers.image.source.
	DefaultSource = "https://github.com/ecc-bpf/ecc"
	// Title is org.opencontainers.image.title.
	Title = "ecli"
	// Description is org.opencontainers.image.description.
	Description = "ecli runs ecc and eunomia-bpf eBPF packages: load, attach, print events, histograms and metrics"
)

// Platforms the image is built for, in index order.
var Platforms = []string{"linux/amd64", "linux/arm64"}

// Binary is one platform's ecli.
type Binary struct {
	// Path is a statically linked ELF executable for Platform.
	Path string
	// Platform is "linux/amd64" or "linux/arm64".
	Platform string
}

// Options say what goes into the image. Build does not modify them.
type Options struct {
	// Binaries are the ecli of each platform, at least one.
	Binaries []Binary
	// CACerts is a CA bundle to install as CACertsPath; "" installs none
	// (ecli then cannot pull over TLS in the container).
	CACerts string
	// Created dates the image (config, history, annotations) and every
	// file in the layer; nil means the Unix epoch.
	Created *time.Time
	// Source is org.opencontainers.image.source; "" means DefaultSource.
	Source string
	// Version is org.opencontainers.image.version; "" means the module
	// version Go stamped into the first binary (omitted when it has none).
	Version string
}

// BinaryError is an ecli the image cannot hold: not an ELF executable,
// built for another machine, or dynamically linked (the image has no
// shared libraries).
type BinaryError struct {
	Path, Platform string
	// Reason says what is wrong and what to do.
	Reason string
}

func (e *BinaryError) Error() string { return e.Path + ": " + e.Reason }

// ErrDynamic is matched by a BinaryError for a dynamically linked binary.
var ErrDynamic = errors.New("dynamically linked")

// Is matches ErrDynamic.
func (e *BinaryError) Is(target error) bool {
	return target == ErrDynamic && strings.HasPrefix(e.Reason, "dynamically linked")
}

// archOf maps OCI architectures to ecc's (kimage.ELFArch's) spelling.
var archOf = map[string]string{"amd64": "x86_64", "arm64": "arm64"}

// CheckBinary reports whether data (the file path) is a statically linked
// ELF executable for platform.
func CheckBinary(path string, data []byte, platform string) error {
	osName, arch, _ := strings.Cut(platform, "/")
	want, ok := archOf[arch]
	if osName != "linux" || !ok {
		return fmt.Errorf("platform %q: the ecli image is built for %s", platform, strings.Join(Platforms, " and "))
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return &BinaryError{Path: path, Platform: platform, Reason: "not an ELF executable (build ecli with 'make build')"}
	}
	defer f.Close()
	if got := kimage.ELFArch(f); got != want {
		if got == "" {
			got = f.Machine.String()
		}
		return &BinaryError{Path: path, Platform: platform, Reason: fmt.Sprintf("built for %s, not for %s (cross-compile with CGO_ENABLED=0 GOARCH=%s go build ./cmd/ecli)", got, platform, arch)}
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return &BinaryError{Path: path, Platform: platform, Reason: fmt.Sprintf("an ELF %s, not an executable", f.Type)}
	}
	if interp := kimage.Interp(f); interp != "" {
		return &BinaryError{Path: path, Platform: platform, Reason: fmt.Sprintf("dynamically linked (it depends on %s); the image has no shared libraries: build it with CGO_ENABLED=0 (make build)", interp)}
	}
	return nil
}

// entry is one file or folder of the layer.
type entry struct {
	name string // relative, folders end in '/'
	mode int64
	data []byte
}

// layerEntries lists the layer in tar order (parents first, sorted).
func layerEntries(ecli, caCerts []byte) []entry {
	var es []entry
	if caCerts != nil {
		es = append(es,
			entry{name: "etc/", mode: 0o755},
			entry{name: "etc/ssl/", mode: 0o755},
			entry{name: "etc/ssl/certs/", mode: 0o755},
			entry{name: strings.TrimPrefix(CACertsPath, "/"), mode: 0o644, data: caCerts},
		)
	}
	return append(es,
		entry{name: "proc/", mode: 0o555},
		entry{name: "sys/", mode: 0o555},
		entry{name: "sys/fs/", mode: 0o755},
		entry{name: "sys/fs/bpf/", mode: 0o755},
		entry{name: "tmp/", mode: 0o1777},
		entry{name: "usr/", mode: 0o755},
		entry{name: "usr/local/", mode: 0o755},
		entry{name: "usr/local/bin/", mode: 0o755},
		entry{name: strings.TrimPrefix(EcliPath, "/"), mode: 0o755, data: ecli},
	)
}

// Layer writes the image's one layer: a tar of ecli and caCerts (nil for
// none) with every entry dated mtime, gzip-compressed. It returns the
// compressed layer and the digest of the tar (the config's diff_id).
func Layer(ecli, caCerts []byte, mtime time.Time) (layer []byte, diffID digest.Digest, err error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(h, zw))
	mtime = mtime.UTC().Truncate(time.Second)
	for _, e := range layerEntries(ecli, caCerts) {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if strings.HasSuffix(e.name, "/") {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), digest.NewDigest(digest.SHA256, h), nil
}

func blob(mediaType string, data []byte) packager.Blob {
	return packager.Blob{Desc: content.NewDescriptorFromBytes(mediaType, data), Data: data}
}

// stamps reads the module version and VCS revision Go stamped into an
// executable ("" when it has none).
func stamps(data []byte) (version, revision string) {
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return "", ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		version = v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return version, revision
}

// Image is a laid-out image and what each platform got.
type Image struct {
	// Artifact is the content, blobs in push order (the index last).
	Artifact *packager.Artifact
	// Platforms follow the index's order.
	Platforms []Platform
}

// Platform is one manifest of the index.
type Platform struct {
	Platform string        `json:"platform"`
	Binary   string        `json:"binary"`
	Manifest digest.Digest `json:"manifest"`
	// Layer is the compressed layer's digest and size; DiffID the digest
	// of the tar inside.
	Layer     digest.Digest `json:"layer"`
	LayerSize int64         `json:"layer_size"`
	DiffID    digest.Digest `json:"diff_id"`
}

// Build lays the image out: per binary a layer, a config and a manifest,
// then an index with each manifest's platform (blobs in push order, the
// index last). Binaries are checked first (CheckBinary).
func Build(o *Options) (*Image, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("no ecli binary to put into the image")
	}
	created := time.Unix(0, 0).UTC()
	if o.Created != nil {
		created = o.Created.UTC().Truncate(time.Second)
	}
	var caCerts []byte
	if o.CACerts != "" {
		var err error
		if caCerts, err = os.ReadFile(o.CACerts); err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
	}
	bins := make([][]byte, len(o.Binaries))
	seen := map[string]string{}
	for i, b := range o.Binaries {
		if prev, ok := seen[b.Platform]; ok {
			return nil, fmt.Errorf("%s and %s are both for %s: give one ecli per platform", prev, b.Path, b.Platform)
		}
		seen[b.Platform] = b.Path
		data, err := os.ReadFile(b.Path)
		if err != nil {
			return nil, err
		}
		if err := CheckBinary(b.Path, data, b.Platform); err != nil {
			return nil, err
		}
		bins[i] = data
	}
	version, revision := stamps(bins[0])
	if o.Version != "" {
		version = o.Version
	}
	source := o.Source
	if source == "" {
		source = DefaultSource
	}
	ann := map[string]string{
		ocispec.AnnotationTitle:       Title,
		ocispec.AnnotationDescription: Description,
		ocispec.AnnotationSource:      source,
		ocispec.AnnotationCreated:     created.Format(time.RFC3339),
	}
	if version != "" {
		ann[ocispec.AnnotationVersion] = version
	}
	if revision != "" {
		ann[ocispec.AnnotationRevision] = revision
	}

	// The layers compress at once (gzip takes about a second per ecli).
	layers := make([][]byte, len(bins))
	diffIDs := make([]digest.Digest, len(bins))
	var g errgroup.Group
	for i := range bins {
		g.Go(func() error {
			var err error
			layers[i], diffIDs[i], err = Layer(bins[i], caCerts, created)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	art := &packager.Artifact{}
	im := &Image{Artifact: art}
	var manifests []ocispec.Descriptor
	for _, p := range Platforms {
		i := -1
		for j, b := range o.Binaries {
			if b.Platform == p {
				i = j
			}
		}
		if i < 0 {
			continue
		}
		layer, diffID := blob(ocispec.MediaTypeImageLayerGzip, layers[i]), diffIDs[i]
		osName, arch, _ := strings.Cut(p, "/")
		comment := "ecli " + version
		if caCerts != nil {
			comment += " with CA certificates"
		}
		img := ocispec.Image{
			Created:  &created,
			Platform: ocispec.Platform{OS: osName, Architecture: arch},
			Config: ocispec.ImageConfig{
				Entrypoint: []string{EcliPath},
				Env:        []string{PathEnv},
				WorkingDir: "/",
				Labels:     ann,
			},
			RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
			History: []ocispec.History{{
				Created:   &created,
				CreatedBy: "ecc ecli-image",
				Comment:   strings.TrimSpace(comment),
			}},
		}
		cfgData, err := json.Marshal(&img)
		if err != nil {
			return nil, err
		}
		cfg := blob(ocispec.MediaTypeImageConfig, cfgData)
		man := ocispec.Manifest{
			Versioned:   specs.Versioned{SchemaVersion: 2},
			MediaType:   ocispec.MediaTypeImageManifest,
			Config:      cfg.Desc,
			Layers:      []ocispec.Descriptor{layer.Desc},
			Annotations: ann,
		}
		manData, err := json.Marshal(&man)
		if err != nil {
			return nil, err
		}
		mb := blob(ocispec.MediaTypeImageManifest, manData)
		d := mb.Desc
		d.Platform = &ocispec.Platform{OS: osName, Architecture: arch}
		manifests = append(manifests, d)
		im.Platforms = append(im.Platforms, Platform{Platform: p, Binary: o.Binaries[i].Path, Manifest: d.Digest,
			Layer: layer.Desc.Digest, LayerSize: layer.Desc.Size, DiffID: diffID})
		art.Blobs = append(art.Blobs, layer, cfg, mb)
	}
	idx := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   manifests,
		Annotations: ann,
	}
	idxData, err := json.Marshal(&idx)
	if err != nil {
		return nil, err
	}
	root := blob(ocispec.MediaTypeImageIndex, idxData)
	art.Blobs = append(art.Blobs, root)
	art.Root = root.Desc
	return im, nil
}

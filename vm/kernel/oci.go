package kernel

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/internal/atomicfile"
	"github.com/ecc-bpf/ecc/internal/debpkg"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
)

// Kernel images on registries, in the layout of cilium/ci-kernels: a
// container image (one per platform under an index) whose layers hold
// /boot/vmlinuz.

// Docker's media types, which images built with docker still carry.
const (
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// ImageRef reports whether Open takes name as a kernel image on a
// registry: it names no file and reads as a remote reference
// (ghcr.io/cilium/ci-kernels:6.1).
func ImageRef(name string) (registry.Reference, bool) {
	if _, err := os.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		return registry.Reference{}, false
	}
	ref, err := registry.ParseReference(name)
	return ref, err == nil && ref.Kind == registry.Remote
}

// maxManifest caps the manifests and indexes read.
const maxManifest = 4 << 20

// fromImage pulls the kernel of an image reference into the cache, once
// per manifest digest.
func fromImage(ctx context.Context, name string, ref registry.Reference, o *OpenOptions, cacheDir string) (*Image, error) {
	t, err := registry.OpenTarget(ctx, ref, o.Registry)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	root, err := t.Resolve(ctx, ref.TagOrDigest())
	if err != nil {
		return nil, err
	}
	desc := root
	if root.MediaType == ocispec.MediaTypeImageIndex || root.MediaType == dockerManifestList {
		var idx ocispec.Index
		if err := fetchJSON(ctx, t, root, &idx); err != nil {
			return nil, err
		}
		if desc, err = packager.SelectPlatform(&idx, "linux/amd64"); err != nil {
			return nil, err
		}
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != dockerManifest {
		return nil, fmt.Errorf("%s is a %q, not a container image", ref, desc.MediaType)
	}
	dir := filepath.Join(cacheDir, "oci-"+desc.Digest.Encoded()[:32])
	if ms, _ := filepath.Glob(filepath.Join(dir, "vmlinuz-*")); len(ms) == 1 {
		return imageAt(name, ms[0])
	}
	var m ocispec.Manifest
	if err := fetchJSON(ctx, t, desc, &m); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "vmlinuz-image")
	// The last layer that has it wins, as in the image's file system.
	for i := len(m.Layers) - 1; i >= 0; i-- {
		found := false
		err := atomicfile.Write(out, 0o644, func(w io.Writer) error {
			var err error
			found, err = layerVmlinuz(ctx, t, m.Layers[i], w)
			if err == nil && !found {
				err = errNotInLayer
			}
			return err
		})
		if errors.Is(err, errNotInLayer) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", m.Layers[i].Digest, err)
		}
		im, err := imageAt(name, out)
		if err != nil {
			os.Remove(out)
		}
		return im, err
	}
	os.Remove(dir)
	return nil, errors.New("the image has no /boot/vmlinuz (the layout of cilium/ci-kernels images)")
}

var errNotInLayer = errors.New("no boot/vmlinuz in the layer")

// layerVmlinuz copies boot/vmlinuz of a layer to w. The whole layer is
// read, so that its digest is checked.
func layerVmlinuz(ctx context.Context, f content.Fetcher, layer ocispec.Descriptor, w io.Writer) (bool, error) {
	rc, err := f.Fetch(ctx, layer)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, layer)
	ext := ""
	switch mt := layer.MediaType; {
	case mt == dockerLayer || strings.HasSuffix(mt, "+gzip"):
		ext = ".gz"
	case strings.HasSuffix(mt, "+zstd"):
		ext = ".zst"
	case mt == ocispec.MediaTypeImageLayer:
		ext = ".tar"
	default:
		return false, fmt.Errorf("layer media type %q is not a tar archive", mt)
	}
	r, err := debpkg.Decompress(ext, vr)
	if err != nil {
		return false, err
	}
	defer r.Close()
	found := false
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, err
		}
		if !found && h.Typeflag == tar.TypeReg && strings.TrimPrefix(path.Clean("/"+h.Name), "/") == "boot/vmlinuz" {
			if _, err := io.Copy(w, tr); err != nil {
				return false, err
			}
			found = true
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return false, err
	}
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return false, err
	}
	return found, vr.Verify()
}

func fetchJSON(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, v any) error {
	if desc.Size > maxManifest {
		return fmt.Errorf("%s is %d bytes, more than the %d allowed", desc.Digest, desc.Size, maxManifest)
	}
	data, err := content.FetchAll(ctx, f, desc)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

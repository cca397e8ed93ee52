// Package kerneltest pushes kernel images in the layout of
// cilium/ci-kernels (an index with a linux/amd64 image whose layers hold
// /boot/vmlinuz) to a registry, for tests of `ecc test --kernel REF`.
package kerneltest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ecc-bpf/ecc/registry"
)

// Layer is a tar+gzip layer of the named files.
func Layer(files map[string][]byte) []byte {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	return gz.Bytes()
}

// Push pushes an image of layers (tar+gzip each) for linux/amd64, under an
// index that also lists a linux/arm64 image without layers, and tags it as
// ref (host/repo:tag).
func Push(t testing.TB, ref string, layers ...[]byte) {
	t.Helper()
	ctx := context.Background()
	r, err := registry.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := registry.OpenTarget(ctx, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	push := func(mt string, data []byte) ocispec.Descriptor {
		d, err := oras.PushBytes(ctx, dst, mt, data)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	config := push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manifest := func(layers [][]byte) ocispec.Descriptor {
		m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{}}
		for _, l := range layers {
			m.Layers = append(m.Layers, push(ocispec.MediaTypeImageLayerGzip, l))
		}
		b, _ := json.Marshal(m)
		return push(ocispec.MediaTypeImageManifest, b)
	}
	amd64, arm64 := manifest(layers), manifest(nil)
	amd64.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm64.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{arm64, amd64}})
	root := push(ocispec.MediaTypeImageIndex, idx)
	if err := dst.Tag(ctx, root, r.TagOrDigest()); err != nil {
		t.Fatal(err)
	}
}

package ociimage_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/ociimage"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// progress counts what a push reports.
type progress struct {
	mu           sync.Mutex
	total, added int64
	blobs        int
	ended        bool
}

func (p *progress) Start(op, ref string, total int64)  { p.total = total }
func (p *progress) Add(n int64)                        { p.mu.Lock(); p.added += n; p.mu.Unlock() }
func (p *progress) Blob(verb, name string, size int64) { p.mu.Lock(); p.blobs++; p.mu.Unlock() }
func (p *progress) End(err error)                      { p.ended = err == nil }

// pullPlatform resolves ref on its target and fetches platform's config
// and the ecli of its layer, as a container runtime would.
func pullPlatform(t *testing.T, ctx context.Context, s, platform string, o *registry.Options) (ocispec.Image, []byte) {
	t.Helper()
	ref, err := registry.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	src, err := registry.OpenTarget(ctx, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	root, err := src.Resolve(ctx, ref.TagOrDigest())
	if err != nil {
		t.Fatal(err)
	}
	md, err := packager.SelectManifest(ctx, src, root, platform)
	if err != nil {
		t.Fatal(err)
	}
	var man ocispec.Manifest
	data, err := content.FetchAll(ctx, src, md)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &man)
	var cfg ocispec.Image
	if data, err = content.FetchAll(ctx, src, man.Config); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &cfg)
	layer, err := content.FetchAll(ctx, src, man.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no /usr/local/bin/ecli in the layer: %v", platform, err)
		}
		if h.Name == "usr/local/bin/ecli" {
			ecli, _ := io.ReadAll(tr)
			return cfg, ecli
		}
	}
}

// The image pushed to a registry (the in-process one) with ecc's push
// code, and to an oci-archive, comes back by platform: each platform's
// config and its own ecli.
func TestPushPull(t *testing.T) {
	amd, arm := tiny(t, "amd64"), tiny(t, "arm64")
	when := time.Unix(1733400000, 0)
	img, err := ociimage.Build(&ociimage.Options{
		Binaries: []ociimage.Binary{{Path: amd, Platform: "linux/amd64"}, {Path: arm, Platform: "linux/arm64"}},
		CACerts:  writeCA(t),
		Created:  &when,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "p"})
	ro := &registry.Options{Username: "u", Password: "p"}
	archive := filepath.Join(t.TempDir(), "ecli.tar")
	for _, dest := range []string{reg.Host + "/ecc/ecli:v1", "oci-archive:" + archive + ":v1"} {
		ref, err := registry.ParseReference(dest)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := registry.OpenTarget(ctx, ref, ro)
		if err != nil {
			t.Fatal(err)
		}
		pr := &progress{}
		res, err := registry.PushArtifact(ctx, img.Artifact, dst, ref, &registry.PushOptions{Progress: pr})
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("push %s: %v", dest, err)
		}
		if res.Digest != img.Artifact.Root.Digest.String() || res.Uploaded != 4 {
			t.Errorf("push %s: %+v", dest, res)
		}
		if pr.total == 0 || pr.added != pr.total || pr.blobs != 4 || !pr.ended {
			t.Errorf("push %s: progress %+v", dest, pr)
		}
		for _, p := range []struct{ platform, bin, arch string }{{"linux/amd64", amd, "amd64"}, {"linux/arm64", arm, "arm64"}} {
			cfg, ecli := pullPlatform(t, ctx, dest, p.platform, ro)
			want, _ := os.ReadFile(p.bin)
			if cfg.Architecture != p.arch || cfg.Config.Entrypoint[0] != ociimage.EcliPath || !bytes.Equal(ecli, want) {
				t.Errorf("%s %s: config %s/%s %v, ecli %d bytes (want %d)", dest, p.platform, cfg.OS, cfg.Architecture, cfg.Config.Entrypoint, len(ecli), len(want))
			}
		}
	}
	// Pushed again, the registry has every blob.
	ref, _ := registry.ParseReference(reg.Host + "/ecc/ecli:v1")
	dst, _ := registry.OpenTarget(ctx, ref, ro)
	defer dst.Close()
	res, err := registry.PushArtifact(ctx, img.Artifact, dst, ref, nil)
	if err != nil || res.Uploaded != 0 || res.Skipped != 4 {
		t.Errorf("second push: %+v, %v", res, err)
	}
}

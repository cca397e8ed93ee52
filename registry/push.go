package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/store"
)

// PushOptions tune Push.
type PushOptions struct {
	// Created stamps the artifact's creation time (from SOURCE_DATE_EPOCH);
	// nil records none, so identical packages push identical digests.
	Created *time.Time
	// Progress, when set, follows the bytes as they are sent.
	Progress Progress
	// Retries of a failed transfer; 0 means DefaultRetries.
	Retries int
	// Eunomia pushes the Wasm module alone in eunomia-bpf's shape (one
	// manifest, a Wasm config and one Wasm layer) for its ecli.
	Eunomia bool
}

// PushResult is what a push produced.
type PushResult struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	// Size is the total size of the artifact's content.
	Size int64 `json:"size"`
	// Uploaded counts the blobs sent; Skipped those the target had.
	Uploaded int `json:"uploaded"`
	Skipped  int `json:"skipped"`
}

// Push lays the packages out as one artifact (an index with a manifest per
// architecture) and copies it to dst under ref's tag. Blobs dst already has
// are not sent again.
func Push(ctx context.Context, pkgs []packager.PlatformPackage, dst oras.Target, ref Reference, po *PushOptions) (*PushResult, error) {
	if po == nil {
		po = &PushOptions{}
	}
	var art *packager.Artifact
	var err error
	if po.Eunomia {
		if len(pkgs) != 1 || pkgs[0].Wasm == nil {
			return nil, fmt.Errorf("push %s: --eunomia pushes one Wasm module, and this package has none (build one with ecc build --wasm)", ref)
		}
		art, err = packager.NewWasmArtifact(pkgs[0].Wasm, pkgs[0].Name)
	} else {
		art, err = packager.NewArtifact(pkgs, packager.ArtifactOptions{Created: po.Created})
	}
	if err != nil {
		return nil, err
	}
	return PushArtifact(ctx, art, dst, ref, po)
}

// PushArtifact copies laid-out content to dst under ref's tag. Blobs dst
// already has are not sent again.
func PushArtifact(ctx context.Context, art *packager.Artifact, dst oras.Target, ref Reference, po *PushOptions) (*PushResult, error) {
	if po == nil {
		po = &PushOptions{}
	}
	if ref.Tag == "" {
		return nil, fmt.Errorf("push %s: a tag is needed (e.g. %s:latest)", ref, ref.String())
	}
	var err error
	if ref.Digest != "" && ref.Digest != art.Root.Digest.String() {
		return nil, fmt.Errorf("push %s: the package's digest is %s", ref, art.Root.Digest)
	}
	res := &PushResult{Reference: ref.String(), Digest: art.Root.Digest.String(), MediaType: art.Root.MediaType}
	var blobs, manifests []packager.Blob
	seen := map[string]bool{}
	for _, b := range art.Blobs {
		if seen[b.Desc.Digest.String()] {
			continue
		}
		seen[b.Desc.Digest.String()] = true
		res.Size += b.Desc.Size
		switch {
		case !store.IsManifest(b.Desc.MediaType):
			blobs = append(blobs, b)
		case b.Desc.Digest != art.Root.Digest:
			manifests = append(manifests, b)
		}
	}
	t := tracker{po.Progress}
	descs := make([]ocispec.Descriptor, len(blobs))
	for i, b := range blobs {
		descs[i] = b.Desc
	}
	t.start("push", ref.String(), descs)
	counters := map[digest.Digest]*blobCounter{}
	err = withRetries(ctx, po.Retries, func() error {
		var err error
		if res.Uploaded, res.Skipped, err = pushBlobs(ctx, dst, blobs, t, counters); err != nil {
			return err
		}
		return pushManifests(ctx, dst, manifests, art.Blobs[len(art.Blobs)-1], ref)
	})
	if err != nil {
		err = fmt.Errorf("push %s: %w", ref, MapError(err, ref))
	}
	t.end(err)
	if err != nil {
		return nil, err
	}
	return res, nil
}

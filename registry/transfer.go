package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ecc-bpf/ecc/packager"
)

// DefaultRetries is how many times a transfer cut off midway is retried.
// Content that already arrived is not sent again.
const DefaultRetries = 3

// PushOptions tune Push.
type PushOptions struct {
	// Created stamps the artifact's creation time (from SOURCE_DATE_EPOCH);
	// nil records none, so identical packages push identical digests.
	Created *time.Time
	// Progress, when set, receives one line per blob transferred.
	Progress io.Writer
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
	MediaType string `json:"mediaType"`
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
		switch b.Desc.MediaType {
		case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex:
			if b.Desc.Digest != art.Root.Digest {
				manifests = append(manifests, b)
			}
		default:
			blobs = append(blobs, b)
		}
	}
	err = withRetries(ctx, po.Retries, func() error {
		res.Uploaded, res.Skipped = 0, 0
		// Blobs, concurrently: a HEAD each, and an upload of those missing.
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		for _, b := range blobs {
			g.Go(func() error {
				have, err := dst.Exists(gctx, b.Desc)
				if err != nil {
					return err
				}
				verb := "exists"
				if !have {
					verb = "pushed"
					if err := dst.Push(gctx, b.Desc, bytes.NewReader(b.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
						return err
					}
				}
				mu.Lock()
				if have {
					res.Skipped++
				} else {
					res.Uploaded++
				}
				progress(po.Progress, verb, describe(b.Desc), b.Desc.Size)
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		// Manifests need no HEAD first: putting one again is harmless.
		for _, m := range manifests {
			if err := dst.Push(ctx, m.Desc, bytes.NewReader(m.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
				return err
			}
		}
		// The index, by tag in one request where the target can.
		root := art.Blobs[len(art.Blobs)-1]
		if rp, ok := dst.(orasregistry.ReferencePusher); ok {
			return rp.PushReference(ctx, root.Desc, bytes.NewReader(root.Data), ref.TagOrDigest())
		}
		if err := dst.Push(ctx, root.Desc, bytes.NewReader(root.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return err
		}
		name := ref.TagOrDigest()
		if _, isStore := dst.(*Store); isStore {
			name = ref.String()
		}
		return dst.Tag(ctx, root.Desc, name)
	})
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, MapError(err, ref))
	}
	progress(po.Progress, "tagged", ref.String(), art.Root.Size)
	return res, nil
}

// describe names a blob for progress lines.
func describe(d ocispec.Descriptor) string {
	if t := d.Annotations[ocispec.AnnotationTitle]; t != "" {
		return t
	}
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex:
		return "index"
	case ocispec.MediaTypeImageManifest:
		return "manifest"
	case packager.MediaTypeConfig:
		return "metadata"
	}
	return d.MediaType
}

func progress(w io.Writer, verb, what string, size int64) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "  %-6s %-24s %s\n", verb, what, HumanSize(size))
}

// HumanSize prints a byte count for people.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// withRetries runs f until it succeeds, the error is final, or the attempts run
// out. Transfers that were cut off or failed on the server are retried;
// authentication, not-found and validation errors are not.
func withRetries(ctx context.Context, retries int, f func() error) error {
	if retries <= 0 {
		retries = DefaultRetries
	}
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		if err = f(); err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, content.ErrMismatchedDigest) ||
		errors.Is(err, packager.ErrUnknownMediaType) || errors.Is(err, packager.ErrInvalid) || errors.Is(err, packager.ErrNoPlatform) {
		return false
	}
	// Transfers cut off (a connection dropped or refused mid-way, a body
	// ending early) and registry-side failures (5xx) are worth another try.
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode >= 500
	}
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &netErr)
}

// PullOptions tune Pull.
type PullOptions struct {
	// Platform chooses the package, "linux/arm64"; "" is the host's.
	Platform string
	Progress io.Writer
	Retries  int
}

// Pulled is what Pull returns.
type Pulled struct {
	// Root is the artifact as the reference names it (index or manifest).
	Root ocispec.Descriptor
	// Package is the platform's package.
	Package *packager.PlatformPackage
	// Fetched counts blobs transferred; Skipped those already local.
	Fetched, Skipped int
}

// graph is a checked artifact: every node's descriptor, children first.
type graph struct {
	nodes []ocispec.Descriptor
	data  map[string][]byte // manifests and indexes already fetched
}

// leafCaps are the layer and config types a package may hold, with caps.
var leafCaps = map[string]int64{
	packager.MediaTypeConfig:     packager.MaxConfigSize,
	packager.MediaTypeWasmConfig: packager.MaxConfigSize,
	packager.MediaTypeObject:     packager.MaxObjectSize,
	packager.MediaTypeWasm:       packager.MaxWasmSize,
	packager.MediaTypeBTF:        packager.MaxBTFSize,
}

// checkManifest parses a manifest and checks its config and layers.
func checkManifest(d ocispec.Descriptor, data []byte) ([]ocispec.Descriptor, error) {
	var man ocispec.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	leaves := append([]ocispec.Descriptor{man.Config}, man.Layers...)
	for _, c := range leaves {
		max, ok := leafCaps[c.MediaType]
		if !ok {
			return nil, fmt.Errorf("%w: %q (%s) in manifest %s; ecc reads %s and %s layers", packager.ErrUnknownMediaType, c.MediaType, c.Digest, d.Digest, packager.MediaTypeObject, packager.MediaTypeWasm)
		}
		if c.Size < 0 || c.Size > max {
			return nil, fmt.Errorf("%s %s is %d bytes, more than the %d allowed", c.MediaType, c.Digest, c.Size, max)
		}
	}
	return leaves, nil
}

// walk checks an artifact before any content is stored: known media types,
// sizes within the caps. The root's content is already fetched; the
// manifests of an index are fetched concurrently.
func walk(ctx context.Context, src content.Fetcher, root ocispec.Descriptor, rootData []byte) (*graph, error) {
	g := &graph{data: map[string][]byte{root.Digest.String(): rootData}}
	switch root.MediaType {
	case ocispec.MediaTypeImageManifest:
		leaves, err := checkManifest(root, rootData)
		if err != nil {
			return nil, err
		}
		g.nodes = append(leaves, root)
		return g, nil
	case ocispec.MediaTypeImageIndex:
	default:
		return nil, fmt.Errorf("%w: %q for %s (not an OCI manifest or index)", packager.ErrUnknownMediaType, root.MediaType, root.Digest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(rootData, &idx); err != nil {
		return nil, fmt.Errorf("index %s: %w", root.Digest, err)
	}
	leaves := make([][]ocispec.Descriptor, len(idx.Manifests))
	datas := make([][]byte, len(idx.Manifests))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(4)
	for i, m := range idx.Manifests {
		if m.MediaType != ocispec.MediaTypeImageManifest {
			return nil, fmt.Errorf("%w: %q for %s in index %s (packages hold one manifest per platform)", packager.ErrUnknownMediaType, m.MediaType, m.Digest, root.Digest)
		}
		eg.Go(func() error {
			data, err := fetchCapped(ectx, src, m, packager.MaxManifestSize, "manifest")
			if err != nil {
				return err
			}
			datas[i] = data
			leaves[i], err = checkManifest(m, data)
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	for i, m := range idx.Manifests {
		g.data[m.Digest.String()] = datas[i]
		g.nodes = append(g.nodes, leaves[i]...)
	}
	g.nodes = append(g.nodes, idx.Manifests...)
	g.nodes = append(g.nodes, root)
	return g, nil
}

func fetchCapped(ctx context.Context, f content.Fetcher, d ocispec.Descriptor, max int64, what string) ([]byte, error) {
	if d.Size < 0 || d.Size > max {
		return nil, fmt.Errorf("%s %s is %d bytes, more than the %d allowed", what, d.Digest, d.Size, max)
	}
	return content.FetchAll(ctx, f, d)
}

// fetchRoot gets the artifact's root by reference: one GET where the target
// can answer with the content (a registry), else resolve then fetch.
func fetchRoot(ctx context.Context, src oras.ReadOnlyTarget, reference string) (ocispec.Descriptor, []byte, error) {
	if rf, ok := src.(orasregistry.ReferenceFetcher); ok {
		d, rc, err := rf.FetchReference(ctx, reference)
		if err != nil {
			return d, nil, err
		}
		defer rc.Close()
		if d.Size < 0 || d.Size > packager.MaxManifestSize {
			return d, nil, fmt.Errorf("%s is %d bytes, more than the %d allowed for a manifest", d.Digest, d.Size, packager.MaxManifestSize)
		}
		data, err := content.ReadAll(rc, d)
		return d, data, err
	}
	d, err := src.Resolve(ctx, reference)
	if err != nil {
		return d, nil, err
	}
	data, err := fetchCapped(ctx, src, d, packager.MaxManifestSize, "manifest")
	return d, data, err
}

// Pull copies the artifact ref names from src into the store, checked and
// verified, and returns the package for the platform. The store changes
// only once everything has arrived and verified: then the artifact is
// stored whole and named ref. A nil store just reads the package.
func Pull(ctx context.Context, src oras.ReadOnlyTarget, ref Reference, store *Store, po *PullOptions) (*Pulled, error) {
	if po == nil {
		po = &PullOptions{}
	}
	var root ocispec.Descriptor
	var g *graph
	err := withRetries(ctx, po.Retries, func() error {
		var data []byte
		var err error
		if root, data, err = fetchRoot(ctx, src, ref.TagOrDigest()); err != nil {
			return err
		}
		g, err = walk(ctx, src, root, data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, MapError(err, ref))
	}
	// Stage everything in memory, verified, before touching the store:
	// what the store has is read from it (sequentially: the store's locks
	// make concurrent callers in one process wait on each other), the rest
	// is fetched concurrently.
	staged := memory.New()
	out := &Pulled{Root: root}
	var missing []ocispec.Descriptor
	seen := map[string]bool{}
	for _, d := range g.nodes {
		if seen[d.Digest.String()] {
			continue
		}
		seen[d.Digest.String()] = true
		data, ok := g.data[d.Digest.String()]
		if !ok && store != nil {
			if have, _ := store.Exists(ctx, d); have {
				if rc, err := store.Fetch(ctx, d); err == nil {
					data, err = content.ReadAll(rc, d)
					rc.Close()
					if err == nil {
						ok = true
						out.Skipped++
						progress(po.Progress, "local", describe(d), d.Size)
					}
				}
			}
		}
		if !ok {
			missing = append(missing, d)
			continue
		}
		if err := staged.Push(ctx, d, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return nil, err
		}
	}
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(4)
	for _, d := range missing {
		eg.Go(func() error {
			var data []byte
			err := withRetries(ectx, po.Retries, func() error {
				var err error
				data, err = content.FetchAll(ectx, src, d)
				return err
			})
			if err != nil {
				return err
			}
			mu.Lock()
			out.Fetched++
			progress(po.Progress, "pulled", describe(d), d.Size)
			mu.Unlock()
			if err := staged.Push(ectx, d, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
				return err
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, MapError(err, ref))
	}
	md, err := packager.SelectManifest(ctx, staged, root, po.Platform)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if out.Package, err = packager.ReadManifest(ctx, staged, md); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if store == nil {
		return out, nil
	}
	for _, d := range g.nodes {
		if d.Digest == root.Digest {
			continue
		}
		if ok, _ := store.Exists(ctx, d); ok {
			continue
		}
		rc, err := staged.Fetch(ctx, d)
		if err != nil {
			return nil, err
		}
		err = store.Push(ctx, d, rc)
		rc.Close()
		if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return nil, fmt.Errorf("store %s: %w", ref, err)
		}
	}
	if ok, _ := store.Exists(ctx, root); !ok {
		if err := store.Push(ctx, root, bytes.NewReader(g.data[root.Digest.String()])); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return nil, fmt.Errorf("store %s: %w", ref, err)
		}
	}
	if err := store.Tag(ctx, root, ref.String()); err != nil {
		return nil, fmt.Errorf("store %s: %w", ref, err)
	}
	return out, nil
}

// Load reads the package for platform from an artifact already in the
// store, verifying what it reads.
func Load(ctx context.Context, store *Store, ref Reference, platform string) (*packager.PlatformPackage, error) {
	root, err := store.Resolve(ctx, ref.String())
	if err != nil {
		return nil, err
	}
	md, err := packager.SelectManifest(ctx, store, root, platform)
	if err != nil {
		return nil, err
	}
	return packager.ReadManifest(ctx, store, md)
}

package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

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
	if ref.Tag == "" {
		return nil, fmt.Errorf("push %s: a tag is needed (e.g. %s:latest)", ref, ref.String())
	}
	art, err := packager.NewArtifact(pkgs, packager.ArtifactOptions{Created: po.Created})
	if err != nil {
		return nil, err
	}
	if ref.Digest != "" && ref.Digest != art.Root.Digest.String() {
		return nil, fmt.Errorf("push %s: the package's digest is %s", ref, art.Root.Digest)
	}
	src := memory.New()
	res := &PushResult{Reference: ref.String(), Digest: art.Root.Digest.String(), MediaType: art.Root.MediaType}
	titles := map[string]string{}
	for _, b := range art.Blobs {
		if ok, _ := src.Exists(ctx, b.Desc); ok {
			continue
		}
		if err := src.Push(ctx, b.Desc, bytes.NewReader(b.Data)); err != nil {
			return nil, err
		}
		res.Size += b.Desc.Size
		titles[b.Desc.Digest.String()] = describe(b.Desc)
	}
	if err := src.Tag(ctx, art.Root, "root"); err != nil {
		return nil, err
	}
	opts := oras.DefaultCopyOptions
	opts.Concurrency = 4
	opts.PostCopy = func(ctx context.Context, d ocispec.Descriptor) error {
		res.Uploaded++
		progress(po.Progress, "pushed", titles[d.Digest.String()], d.Size)
		return nil
	}
	opts.OnCopySkipped = func(ctx context.Context, d ocispec.Descriptor) error {
		res.Skipped++
		progress(po.Progress, "exists", titles[d.Digest.String()], d.Size)
		return nil
	}
	err = withRetries(ctx, po.Retries, func() error {
		res.Uploaded, res.Skipped = 0, 0
		_, err := oras.Copy(ctx, src, "root", dst, ref.TagOrDigest(), opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, MapError(err, ref))
	}
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
	msg := err.Error()
	return strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, " 5") || strings.Contains(msg, "timeout") || strings.Contains(msg, "unexpected")
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

// walk fetches and checks the manifests of an artifact before any content
// is stored: known media types, sizes within the caps.
func walk(ctx context.Context, src content.Fetcher, root ocispec.Descriptor) (*graph, error) {
	g := &graph{data: map[string][]byte{}}
	var visit func(d ocispec.Descriptor, depth int) error
	visit = func(d ocispec.Descriptor, depth int) error {
		if depth > 2 {
			return fmt.Errorf("%s: nested indexes are not packages", d.Digest)
		}
		switch d.MediaType {
		case ocispec.MediaTypeImageIndex:
			data, err := fetchCapped(ctx, src, d, packager.MaxManifestSize, "index")
			if err != nil {
				return err
			}
			var idx ocispec.Index
			if err := json.Unmarshal(data, &idx); err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
			g.data[d.Digest.String()] = data
			for _, m := range idx.Manifests {
				if err := visit(m, depth+1); err != nil {
					return err
				}
			}
		case ocispec.MediaTypeImageManifest:
			data, err := fetchCapped(ctx, src, d, packager.MaxManifestSize, "manifest")
			if err != nil {
				return err
			}
			var man ocispec.Manifest
			if err := json.Unmarshal(data, &man); err != nil {
				return fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			g.data[d.Digest.String()] = data
			caps := map[string]int64{
				packager.MediaTypeConfig:     packager.MaxConfigSize,
				packager.MediaTypeWasmConfig: packager.MaxConfigSize,
				packager.MediaTypeObject:     packager.MaxObjectSize,
				packager.MediaTypeWasm:       packager.MaxWasmSize,
				packager.MediaTypeBTF:        packager.MaxBTFSize,
			}
			for _, c := range append([]ocispec.Descriptor{man.Config}, man.Layers...) {
				max, ok := caps[c.MediaType]
				if !ok {
					return fmt.Errorf("%w: %q (%s) in manifest %s; ecc reads %s and %s layers", packager.ErrUnknownMediaType, c.MediaType, c.Digest, d.Digest, packager.MediaTypeObject, packager.MediaTypeWasm)
				}
				if c.Size < 0 || c.Size > max {
					return fmt.Errorf("%s %s is %d bytes, more than the %d allowed", c.MediaType, c.Digest, c.Size, max)
				}
				g.nodes = append(g.nodes, c)
			}
		default:
			return fmt.Errorf("%w: %q for %s (not an OCI manifest or index)", packager.ErrUnknownMediaType, d.MediaType, d.Digest)
		}
		g.nodes = append(g.nodes, d)
		return nil
	}
	if root.Size > packager.MaxManifestSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed for a manifest", root.Digest, root.Size, packager.MaxManifestSize)
	}
	if err := visit(root, 0); err != nil {
		return nil, err
	}
	return g, nil
}

func fetchCapped(ctx context.Context, f content.Fetcher, d ocispec.Descriptor, max int64, what string) ([]byte, error) {
	if d.Size < 0 || d.Size > max {
		return nil, fmt.Errorf("%s %s is %d bytes, more than the %d allowed", what, d.Digest, d.Size, max)
	}
	return content.FetchAll(ctx, f, d)
}

// Pull copies the artifact ref names from src into the store, checked and
// verified, and returns the package for the platform. The store changes
// only once everything has arrived and verified: then the artifact is
// stored whole and named ref.
func Pull(ctx context.Context, src oras.ReadOnlyTarget, ref Reference, store *Store, po *PullOptions) (*Pulled, error) {
	if po == nil {
		po = &PullOptions{}
	}
	var root ocispec.Descriptor
	err := withRetries(ctx, po.Retries, func() error {
		var err error
		root, err = src.Resolve(ctx, ref.TagOrDigest())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, MapError(err, ref))
	}
	var g *graph
	if err := withRetries(ctx, po.Retries, func() error {
		var err error
		g, err = walk(ctx, src, root)
		return err
	}); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, MapError(err, ref))
	}
	// Stage everything in memory, verified, before touching the store.
	staged := memory.New()
	out := &Pulled{Root: root}
	for _, d := range g.nodes {
		if ok, _ := staged.Exists(ctx, d); ok {
			continue
		}
		data, ok := g.data[d.Digest.String()]
		if !ok {
			if have, _ := store.Exists(ctx, d); have {
				rc, err := store.Fetch(ctx, d)
				if err == nil {
					data, err = content.ReadAll(rc, d)
					rc.Close()
				}
				if err == nil {
					out.Skipped++
					progress(po.Progress, "local", describe(d), d.Size)
				}
			}
		}
		if data == nil {
			err := withRetries(ctx, po.Retries, func() error {
				var err error
				data, err = content.FetchAll(ctx, src, d)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("pull %s: %w", ref, MapError(err, ref))
			}
			out.Fetched++
			progress(po.Progress, "pulled", describe(d), d.Size)
		}
		if err := staged.Push(ctx, d, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
	}
	md, err := packager.SelectManifest(ctx, staged, root, po.Platform)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if out.Package, err = packager.ReadManifest(ctx, staged, md); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if store != nil {
		for _, d := range g.nodes {
			if ok, _ := store.Exists(ctx, d); ok {
				continue
			}
			rc, err := staged.Fetch(ctx, d)
			if err != nil {
				return nil, err
			}
			err = store.Push(ctx, d, rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("store %s: %w", ref, err)
			}
		}
		if err := store.Tag(ctx, root, ref.String()); err != nil {
			return nil, fmt.Errorf("store %s: %w", ref, err)
		}
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

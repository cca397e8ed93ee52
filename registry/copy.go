package registry

// The copy engine: ecc moves blobs itself rather than through oras.Copy
// (the package documentation, "Copy engine", says why and what it costs).
// Pushes send what the target lacks from the artifact in memory; pulls
// stage what the store lacks and commit it at once.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/store"
)

// copyConcurrency is how many blobs move at once, each way.
const copyConcurrency = 4

// pushBlobs sends dst the blobs it lacks, concurrently: a HEAD each, and
// an upload of those missing. It returns how many it uploaded and how many
// dst had. counters, shared by the attempts of a push, hold the progress
// of each blob.
func pushBlobs(ctx context.Context, dst oras.Target, blobs []packager.Blob, t tracker, counters map[digest.Digest]*blobCounter) (uploaded, skipped int, err error) {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyConcurrency)
	for _, b := range blobs {
		c := counters[b.Desc.Digest]
		if c == nil {
			c = &blobCounter{t: t}
			counters[b.Desc.Digest] = c
		}
		g.Go(func() error {
			have, err := dst.Exists(gctx, b.Desc)
			if err != nil {
				return err
			}
			if !have {
				c.mark()
				if err := dst.Push(withCounter(gctx, c), b.Desc, bytes.NewReader(b.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
					return err
				}
			}
			// A target that is not a registry (a layout) took the blob
			// whole; and one the target has is accounted for.
			c.observe(b.Desc.Size)
			mu.Lock()
			if have {
				skipped++
			} else {
				uploaded++
			}
			mu.Unlock()
			c.done(b.Desc)
			return nil
		})
	}
	err = g.Wait()
	return uploaded, skipped, err
}

// pushManifests puts the manifests, then the root under ref's tag: by tag
// in one request where dst can (a registry), else pushed then tagged (the
// local store takes the full reference as the name).
func pushManifests(ctx context.Context, dst oras.Target, manifests []packager.Blob, root packager.Blob, ref Reference) error {
	// Manifests need no HEAD first: putting one again is harmless.
	for _, m := range manifests {
		if err := dst.Push(ctx, m.Desc, bytes.NewReader(m.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return err
		}
	}
	if rp, ok := dst.(orasregistry.ReferencePusher); ok {
		return rp.PushReference(ctx, root.Desc, bytes.NewReader(root.Data), ref.TagOrDigest())
	}
	if err := dst.Push(ctx, root.Desc, bytes.NewReader(root.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return err
	}
	name := ref.TagOrDigest()
	if _, isStore := dst.(*store.Store); isStore {
		name = ref.String()
	}
	return dst.Tag(ctx, root.Desc, name)
}

// fetchCapped fetches a small blob (a manifest) whose descriptor declares at
// most max bytes, verifying size and digest.
func fetchCapped(ctx context.Context, f content.Fetcher, d ocispec.Descriptor, max int64, what string) ([]byte, error) {
	if d.Size < 0 || d.Size > max {
		return nil, fmt.Errorf("%s %s is %d bytes, more than the %d bytes a manifest may have", what, d.Digest, d.Size, max)
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
			return d, nil, fmt.Errorf("manifest %s is %d bytes, more than the %d bytes a manifest may have", d.Digest, d.Size, packager.MaxManifestSize)
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

// pullFetcher serves a pull's blobs: from memory, from the ingest files
// staged, else from the store.
type pullFetcher struct {
	mem    map[digest.Digest][]byte
	staged map[digest.Digest]*store.Staged
	st     *store.Store
}

func (f *pullFetcher) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if b, ok := f.mem[d.Digest]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	if b, ok := f.staged[d.Digest]; ok && b.Pending() {
		return b.Open()
	}
	return f.st.Fetch(ctx, d)
}

// stage fetches the blobs in missing from src, concurrently, streaming
// each into an ingest file of the store (verified as it arrives) and keeping
// in memory those keep asks for; the manifests, whose contents are at hand,
// are staged meanwhile. A blob cut off midway is fetched again (po.Retries).
// It returns how many blobs it fetched.
func (f *pullFetcher) stage(ctx context.Context, src content.Fetcher, missing []ocispec.Descriptor, keep func(ocispec.Descriptor) bool,
	manifests []ocispec.Descriptor, contents [][]byte, po *PullOptions) (int, error) {
	st := f.st
	fetched := 0
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(copyConcurrency)
	t := tracker{po.Progress}
	for _, d := range missing {
		c := &blobCounter{t: t}
		eg.Go(func() error {
			var b *store.Staged
			var buf *bytes.Buffer
			err := withRetries(ectx, po.Retries, func() error {
				var rc io.ReadCloser
				var err error
				if d.Data != nil {
					// Embedded in the manifest (and checked against the
					// digest by DecodeManifest): no request.
					rc = io.NopCloser(bytes.NewReader(d.Data))
				} else if rc, err = src.Fetch(ectx, d); err != nil {
					return err
				}
				rc = c.body(rc)
				defer rc.Close()
				var tee io.Writer
				if keep(d) {
					buf = bytes.NewBuffer(make([]byte, 0, d.Size))
					tee = buf
				}
				b, err = st.Stage(ectx, d, rc, tee)
				return err
			})
			if err != nil {
				return err
			}
			mu.Lock()
			f.staged[d.Digest] = b
			if buf != nil {
				f.mem[d.Digest] = buf.Bytes()
			}
			fetched++
			mu.Unlock()
			t.blob("pulled", d)
			return nil
		})
	}
	for i, d := range manifests {
		if have, _ := st.Exists(ctx, d); have {
			continue
		}
		eg.Go(func() error {
			b, err := st.Stage(ectx, d, bytes.NewReader(contents[i]), nil)
			if err != nil {
				return err
			}
			mu.Lock()
			f.staged[d.Digest] = b
			mu.Unlock()
			return nil
		})
	}
	err := eg.Wait()
	return fetched, err
}

// commit moves the staged blobs into place (layers and config first, then
// the manifest, then the index, so that no manifest is ever without its
// content) and names the root ref.
func (f *pullFetcher) commit(ctx context.Context, ref Reference, root ocispec.Descriptor) error {
	st := f.st
	var staged []*store.Staged
	for _, b := range f.staged {
		staged = append(staged, b)
	}
	rank := func(b *store.Staged) int {
		switch d := b.Descriptor(); {
		case d.Digest == root.Digest:
			return 2
		case store.IsManifest(d.MediaType):
			return 1
		}
		return 0
	}
	slices.SortFunc(staged, func(a, b *store.Staged) int { return rank(a) - rank(b) })
	if err := st.Commit(ctx, staged...); err != nil {
		return fmt.Errorf("store %s: %w", ref, err)
	}
	if err := st.Tag(ctx, root, ref.String()); err != nil {
		return fmt.Errorf("store %s: %w", ref, err)
	}
	return nil
}

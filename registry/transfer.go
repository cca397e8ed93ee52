package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/store"
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
		if _, isStore := dst.(*store.Store); isStore {
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
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrTimeout) || errors.Is(err, ErrLimit) {
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
	// Limits bound what the pull accepts; nil means those of the Options
	// src was opened with (OpenTarget), else the defaults.
	Limits *Limits
	// OpenStore, when set and the store argument is nil, gives the store to
	// pull into. It is called only once the manifest has arrived, so a
	// caller can open (or create) the store while the first round trips are
	// under way.
	OpenStore func() (*store.Store, error)
}

// Pulled is what Pull returns.
type Pulled struct {
	// Root is the artifact as the reference names it (index or manifest).
	Root ocispec.Descriptor
	// Manifest is the platform's manifest, checked.
	Manifest *packager.PackageManifest
	// Package is the platform's package.
	Package *packager.PlatformPackage
	// Fetched counts blobs transferred; Skipped those already local.
	Fetched, Skipped int
}

// limited is implemented by the targets OpenTarget returns.
type limited interface{ limits() Limits }

func pullLimits(src any, po *PullOptions) Limits {
	if po.Limits != nil {
		return po.Limits.orDefault()
	}
	if l, ok := src.(limited); ok {
		return l.limits().orDefault()
	}
	return Limits{}.orDefault()
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

// selectManifest decodes the root and, for an index, fetches and decodes
// the platform's manifest only; it returns that manifest and its content.
func selectManifest(ctx context.Context, src content.Fetcher, root ocispec.Descriptor, rootData []byte, platform string, lim Limits) (*packager.PackageManifest, []byte, error) {
	switch root.MediaType {
	case ocispec.MediaTypeImageManifest:
		m, err := packager.DecodeManifest(root, rootData)
		return m, rootData, err
	case ocispec.MediaTypeImageIndex:
	default:
		return nil, nil, fmt.Errorf("%w: %q for %s (not an OCI manifest or index)", packager.ErrUnknownMediaType, root.MediaType, root.Digest)
	}
	idx, err := packager.DecodeIndex(root, rootData)
	if err != nil {
		return nil, nil, err
	}
	if len(idx.Manifests) > lim.MaxManifests {
		return nil, nil, &limitError{what: fmt.Sprintf("index %s lists %d manifests", root.Digest, len(idx.Manifests)),
			max: strconv.Itoa(lim.MaxManifests), flag: "--max-manifests N"}
	}
	d, err := packager.SelectPlatform(idx, platform)
	if err != nil {
		return nil, nil, err
	}
	if d.MediaType != ocispec.MediaTypeImageManifest {
		return nil, nil, fmt.Errorf("%w: %q for %s in index %s (packages hold one manifest per platform)", packager.ErrUnknownMediaType, d.MediaType, d.Digest, root.Digest)
	}
	data, err := fetchCapped(ctx, src, d, packager.MaxManifestSize, "manifest")
	if err != nil {
		return nil, nil, err
	}
	m, err := packager.DecodeManifest(d, data)
	return m, data, err
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

// Pull copies the platform's package of the artifact ref names from src
// into the store and returns it read (the Wasm module included; a BTF
// archive is stored, not read). Only that platform's manifest and blobs are
// fetched (the store keeps the index and them), within the limits; blobs
// stream to the store's ingest folder and are verified as they arrive. The
// store changes only once everything has arrived and verified and the
// package reads: then the blobs are moved into place and the artifact is
// named ref. A nil store pulls into PullOptions.OpenStore's, else into a
// temporary one.
func Pull(ctx context.Context, src oras.ReadOnlyTarget, ref Reference, st *store.Store, po *PullOptions) (*Pulled, error) {
	p, _, err := pull(ctx, src, ref, st, po, "")
	return p, err
}

// PullTo pulls like Pull and writes the package's files into dir, as
// WriteFiles does (renamed into place once the store has the artifact).
// The Wasm module is copied from the store, never held in memory:
// Pulled.Package.Wasm stays nil. It returns the paths written.
func PullTo(ctx context.Context, src oras.ReadOnlyTarget, ref Reference, st *store.Store, dir string, po *PullOptions) (*Pulled, []string, error) {
	return pull(ctx, src, ref, st, po, dir)
}

func pull(ctx context.Context, src oras.ReadOnlyTarget, ref Reference, st *store.Store, po *PullOptions, dir string) (*Pulled, []string, error) {
	if po == nil {
		po = &PullOptions{}
	}
	fail := func(format string, err error) (*Pulled, []string, error) {
		return nil, nil, fmt.Errorf(format, ref, err)
	}
	lim := pullLimits(src, po)
	var root ocispec.Descriptor
	var rootData, manData []byte
	var m *packager.PackageManifest
	err := withRetries(ctx, po.Retries, func() error {
		var err error
		if root, rootData, err = fetchRoot(ctx, src, ref.TagOrDigest()); err != nil {
			return err
		}
		m, manData, err = selectManifest(ctx, src, root, rootData, po.Platform, lim)
		return err
	})
	if err != nil {
		return fail("pull %s: %w", MapError(err, ref))
	}
	total := root.Size + m.Size()
	if m.Desc.Digest != root.Digest {
		total += m.Desc.Size
	}
	if total > lim.MaxBytes {
		what := "the package"
		if m.Platform != "" {
			what = "the " + m.Platform + " package"
		}
		return fail("pull %s: %w", &limitError{
			what: fmt.Sprintf("%s is %s (%d bytes)", what, HumanSize(total), total),
			max:  HumanSize(lim.MaxBytes), flag: "--max-bytes SIZE"})
	}
	switch {
	case st != nil:
	case po.OpenStore != nil:
		if st, err = po.OpenStore(); err != nil {
			return nil, nil, err
		}
	default:
		tmp, err := os.MkdirTemp("", "ecc-pull-")
		if err != nil {
			return fail("pull %s: %w", err)
		}
		defer os.RemoveAll(tmp)
		if st, err = store.Open(tmp); err != nil {
			return fail("pull %s: %w", err)
		}
		defer st.Close()
	}

	// Fetch what the store lacks, concurrently, streaming each blob into an
	// ingest file; the config and object are also kept in memory (the
	// package needs them there).
	out := &Pulled{Root: root, Manifest: m}
	f := &pullFetcher{mem: map[digest.Digest][]byte{}, staged: map[digest.Digest]*store.Staged{}, st: st}
	defer func() {
		for _, b := range f.staged {
			b.Discard()
		}
	}()
	var missing []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range m.Blobs() {
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		if have, _ := st.Exists(ctx, d); have {
			out.Skipped++
			progress(po.Progress, "local", describe(d), d.Size)
			continue
		}
		missing = append(missing, d)
	}
	keep := func(d ocispec.Descriptor) bool {
		return d.Digest == m.Config.Digest || (m.Object != nil && d.Digest == m.Object.Digest)
	}
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(4)
	for _, d := range missing {
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
			out.Fetched++
			progress(po.Progress, "pulled", describe(d), d.Size)
			mu.Unlock()
			return nil
		})
	}
	// The manifest and the root are staged meanwhile (their content is in
	// memory already), to be committed with the blobs.
	manifests := []ocispec.Descriptor{{MediaType: m.Desc.MediaType, Digest: m.Desc.Digest, Size: m.Desc.Size}, root}
	contents := [][]byte{manData, rootData}
	if m.Desc.Digest == root.Digest {
		manifests, contents = manifests[1:], contents[1:]
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
	if err := eg.Wait(); err != nil {
		return fail("pull %s: %w", MapError(err, ref))
	}
	// Everything arrived and verified; the package must read before the
	// store changes.
	if out.Package, err = packager.ReadPackage(ctx, f, m, packager.ReadOptions{Wasm: dir == ""}); err != nil {
		return fail("pull %s: %w", err)
	}
	if m.Wasm != nil && out.Package.Wasm == nil {
		if err := checkWasmMagic(ctx, f, *m.Wasm); err != nil {
			return fail("pull %s: %w", err)
		}
	}
	// The files (PullTo) are written, under temporary names, while the
	// store takes the artifact; they are renamed into place after.
	var w *fileWriter
	var werr error
	var wg sync.WaitGroup
	if dir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w, werr = newFileWriter(dir, out.Package.Name); werr == nil {
				werr = w.addPackage(out)
			}
		}()
	}
	serr := storeArtifact(ctx, st, f, ref, root)
	wg.Wait()
	defer w.abort()
	switch {
	case serr != nil:
		return nil, nil, serr
	case werr != nil:
		return fail("pull %s: %w", werr)
	case dir == "":
		return out, nil, nil
	}
	if err := w.addWasm(ctx, st, out); err != nil {
		return fail("pull %s: %w", err)
	}
	files, err := w.commit()
	if err != nil {
		return fail("pull %s: %w", err)
	}
	return out, files, nil
}

// storeArtifact moves the staged blobs into place (layers and config
// first, then the manifest, then the index, so that no manifest is ever
// without its content) and names the root ref.
func storeArtifact(ctx context.Context, st *store.Store, f *pullFetcher, ref Reference, root ocispec.Descriptor) error {
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

// checkWasmMagic checks that a Wasm layer starts like a Wasm module.
func checkWasmMagic(ctx context.Context, f content.Fetcher, d ocispec.Descriptor) error {
	rc, err := f.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(rc, magic); err != nil || !bytes.Equal(magic, []byte("\x00asm")) {
		return fmt.Errorf("layer %s is not a Wasm module", d.Digest)
	}
	return nil
}

// Load reads the package for platform from an artifact already in the
// store, verifying what it reads (the Wasm module included; a BTF archive
// is not read). A platform whose manifest the store lacks (pulls fetch one
// platform) gives an error wrapping ErrNotInStore.
func Load(ctx context.Context, st *store.Store, ref Reference, platform string) (*packager.PlatformPackage, error) {
	root, err := st.Resolve(ctx, ref.String())
	if err != nil {
		return nil, err
	}
	md, err := packager.SelectManifest(ctx, st, root, platform)
	if err != nil {
		return nil, err
	}
	if md.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("%w: %q for manifest %s", packager.ErrUnknownMediaType, md.MediaType, md.Digest)
	}
	data, err := fetchCapped(ctx, st, md, packager.MaxManifestSize, "manifest")
	if err != nil {
		return nil, err
	}
	m, err := packager.DecodeManifest(md, data)
	if err != nil {
		return nil, err
	}
	return packager.ReadPackage(ctx, st, m, packager.ReadOptions{Wasm: true})
}

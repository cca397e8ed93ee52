package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/store"
)

// PullOptions tune Pull.
type PullOptions struct {
	// Platform chooses the package, "linux/arm64"; "" is the host's.
	Platform string
	// Progress, when set, follows the bytes as they arrive (from the
	// moment the manifest has).
	Progress Progress
	Retries  int
	// Limits bound what the pull accepts; nil means those of the Options
	// src was opened with (OpenTarget), else the defaults.
	Limits *Limits
	// Overwrite lets PullTo replace files already in its folder; without
	// it they are refused (*ExistsError) before the store changes.
	Overwrite bool
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

// selectManifest decodes the root and, for an index, fetches and decodes
// the platform's manifest only; it returns that manifest and its content.
func selectManifest(ctx context.Context, src content.Fetcher, root ocispec.Descriptor, rootData []byte, platform string, lim Limits) (*packager.PackageManifest, []byte, error) {
	if err := packager.CheckManifestType(root, true); err != nil {
		return nil, nil, err
	}
	if root.MediaType == ocispec.MediaTypeImageManifest {
		m, err := packager.DecodeManifest(root, rootData)
		return m, rootData, err
	}
	idx, err := packager.DecodeIndex(root, rootData)
	if err != nil {
		return nil, nil, err
	}
	if len(idx.Manifests) > lim.MaxManifests {
		return nil, nil, &LimitError{What: fmt.Sprintf("index %s lists %d manifests", root.Digest, len(idx.Manifests)),
			Max: strconv.Itoa(lim.MaxManifests), Limit: "MaxManifests"}
	}
	d, err := packager.SelectPlatform(idx, platform)
	if err != nil {
		return nil, nil, err
	}
	if err := packager.CheckManifestType(d, false); err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", root.Digest, err)
	}
	data, err := fetchCapped(ctx, src, d, packager.MaxManifestSize, "manifest")
	if err != nil {
		return nil, nil, err
	}
	m, err := packager.DecodeManifest(d, data)
	return m, data, err
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
	t := tracker{po.Progress}
	started := false
	p, files, err := pullOnce(ctx, src, ref, st, po, dir, func(blobs []ocispec.Descriptor) {
		t.start("pull", ref.String(), blobs)
		started = true
	})
	if started {
		t.end(err)
	}
	return p, files, err
}

// pullOnce is pull; it calls start with the blobs of the manifest once it
// has arrived.
func pullOnce(ctx context.Context, src oras.ReadOnlyTarget, ref Reference, st *store.Store, po *PullOptions, dir string, start func([]ocispec.Descriptor)) (*Pulled, []string, error) {
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
		return fail("pull %s: %w", &LimitError{
			What: fmt.Sprintf("%s is %s (%d bytes)", what, HumanSize(total), total),
			Max:  HumanSize(lim.MaxBytes), Limit: "MaxBytes"})
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
	var blobs, missing []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range m.Blobs() {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			blobs = append(blobs, d)
		}
	}
	start(blobs)
	t := tracker{po.Progress}
	for _, d := range blobs {
		if have, _ := st.Exists(ctx, d); have {
			out.Skipped++
			t.add(d.Size)
			t.blob("local", d)
			continue
		}
		missing = append(missing, d)
	}
	keep := func(d ocispec.Descriptor) bool {
		return d.Digest == m.Config.Digest || (m.Object != nil && d.Digest == m.Object.Digest)
	}
	// The manifest and the root are staged meanwhile (their content is in
	// memory already), to be committed with the blobs.
	manifests := []ocispec.Descriptor{{MediaType: m.Desc.MediaType, Digest: m.Desc.Digest, Size: m.Desc.Size}, root}
	contents := [][]byte{manData, rootData}
	if m.Desc.Digest == root.Digest {
		manifests, contents = manifests[1:], contents[1:]
	}
	if out.Fetched, err = f.stage(ctx, src, missing, keep, manifests, contents, po); err != nil {
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
	// store takes the artifact; they are renamed into place after. Files
	// already there are refused first, unless Overwrite.
	var w *fileWriter
	if dir != "" {
		if w, err = newFileWriter(dir, out.Package.Name, po.Overwrite); err != nil {
			return fail("pull %s: %w", err)
		}
		defer w.abort()
		if err := w.check(w.names(out)); err != nil {
			return fail("pull %s: %w", err)
		}
	}
	var werr error
	var wg sync.WaitGroup
	if w != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			werr = w.addPackage(out)
		}()
	}
	serr := f.commit(ctx, ref, root)
	wg.Wait()
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

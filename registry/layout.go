package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/registry/store"
)

// layoutTarget serves oci:DIR and oci-archive:FILE. The oras-go store is
// created lazily on the first write, so reading a missing layout creates
// nothing.
type layoutTarget struct {
	ref  Reference
	root string // the layout folder (a private temp folder for archives)

	mu     sync.Mutex
	store  *oci.Store
	dirty  bool // a manifest was stored or a tag set
	closed bool

	archive string // OCIArchive: the tar file to write on Close
	lim     Limits
}

func (t *layoutTarget) limits() Limits { return t.lim }

func openLayout(ctx context.Context, ref Reference) (*layoutTarget, error) {
	t := &layoutTarget{ref: ref, root: ref.Path}
	fi, err := os.Stat(ref.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return t, nil
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", ref, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open %s: %s is not a folder (for a tar file use oci-archive:%s)", ref, ref.Path, ref.Path)
	}
	if _, err := os.Stat(filepath.Join(ref.Path, ocispec.ImageLayoutFile)); err != nil {
		entries, rerr := os.ReadDir(ref.Path)
		if rerr != nil {
			return nil, fmt.Errorf("open %s: %w", ref, rerr)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("open %s: %s is not an OCI image layout (it has no %s file) and is not empty; name a new or empty folder",
				ref, ref.Path, ocispec.ImageLayoutFile)
		}
		return t, nil
	}
	if err := t.open(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func openArchive(ctx context.Context, ref Reference, lim Limits) (*layoutTarget, error) {
	tmp, err := os.MkdirTemp("", "ecc-oci-archive-")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	t := &layoutTarget{ref: ref, root: tmp, archive: ref.Path, lim: lim}
	f, err := os.Open(ref.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err == nil {
		err = extractTar(f, tmp, lim.MaxBytes)
		f.Close()
	}
	if err == nil {
		if _, serr := os.Stat(filepath.Join(tmp, ocispec.ImageLayoutFile)); serr != nil {
			err = fmt.Errorf("%s is not an OCI image layout archive (it has no %s file)", ref.Path, ocispec.ImageLayoutFile)
		}
	}
	if err == nil {
		err = t.open(ctx)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	return t, nil
}

// open opens (or creates) the oras-go store; t.mu must be held or t unshared.
func (t *layoutTarget) open(ctx context.Context) error {
	s, err := oci.NewWithContext(ctx, t.root)
	if err != nil {
		return fmt.Errorf("open %s: %w", t.ref, err)
	}
	t.store = s
	return nil
}

// get returns the store, or nil while the layout does not exist.
func (t *layoutTarget) get() (*oci.Store, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%s: target is closed", t.ref)
	}
	return t.store, nil
}

// writable returns the store, creating the layout if needed.
func (t *layoutTarget) writable(ctx context.Context) (*oci.Store, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%s: target is closed", t.ref)
	}
	if t.store == nil {
		if err := t.open(ctx); err != nil {
			return nil, err
		}
	}
	return t.store, nil
}

func (t *layoutTarget) changed() {
	t.mu.Lock()
	t.dirty = true
	t.mu.Unlock()
}

func (t *layoutTarget) mapErr(err error) error { return MapError(err, t.ref) }

func (t *layoutTarget) notFound(what string) error {
	return t.mapErr(fmt.Errorf("%s: %w", what, errdef.ErrNotFound))
}

func (t *layoutTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	s, err := t.get()
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, t.notFound(desc.Digest.String())
	}
	rc, err := s.Fetch(ctx, desc)
	return rc, t.mapErr(err)
}

func (t *layoutTarget) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	s, err := t.get()
	if err != nil || s == nil {
		return false, err
	}
	ok, err := s.Exists(ctx, desc)
	return ok, t.mapErr(err)
}

func (t *layoutTarget) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	s, err := t.writable(ctx)
	if err != nil {
		return err
	}
	if err := s.Push(ctx, desc, r); err != nil {
		return t.mapErr(err)
	}
	if store.IsManifest(desc.MediaType) {
		t.changed()
	}
	return nil
}

func (t *layoutTarget) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	s, err := t.get()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	ref := withReference(t.ref, reference)
	if s == nil {
		return ocispec.Descriptor{}, MapError(fmt.Errorf("%s: %w", reference, errdef.ErrNotFound), ref)
	}
	desc, err := s.Resolve(ctx, reference)
	return desc, MapError(err, ref)
}

func (t *layoutTarget) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	s, err := t.writable(ctx)
	if err != nil {
		return err
	}
	if err := s.Tag(ctx, desc, reference); err != nil {
		return MapError(err, withReference(t.ref, reference))
	}
	t.changed()
	return nil
}

func (t *layoutTarget) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	s, err := t.get()
	if err != nil || s == nil {
		return nil, err
	}
	descs, err := s.Predecessors(ctx, node)
	return descs, t.mapErr(err)
}

// Tags lists the tags of the layout (registry.TagLister).
func (t *layoutTarget) Tags(ctx context.Context, last string, fn func(tags []string) error) error {
	s, err := t.get()
	if err != nil || s == nil {
		return err
	}
	return s.Tags(ctx, last, fn)
}

// Close releases the target. For an oci-archive target that stored a
// manifest or set a tag it first writes the archive (temp file + rename);
// the private extraction folder is always removed.
func (t *layoutTarget) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.archive == "" {
		return nil
	}
	defer os.RemoveAll(t.root)
	if !t.dirty {
		return nil
	}
	if err := writeArchive(t.root, t.archive); err != nil {
		return fmt.Errorf("write %s: %w", t.ref, err)
	}
	return nil
}

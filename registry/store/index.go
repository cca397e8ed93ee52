package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
)

func storeEmptyIndex() *ocispec.Index {
	return &ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
}

func (s *Store) readIndex() (*ocispec.Index, error) {
	p := filepath.Join(s.dir, ocispec.ImageIndexFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read store index: %w", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("read store index %s: %w; the store is damaged: move it away or set ECC_STORE_DIR", p, err)
	}
	if idx.SchemaVersion != 2 || (idx.MediaType != "" && idx.MediaType != ocispec.MediaTypeImageIndex) {
		return nil, fmt.Errorf("read store index %s: not an OCI image index (schemaVersion %d, mediaType %q)", p, idx.SchemaVersion, idx.MediaType)
	}
	return &idx, nil
}

// writeIndex replaces index.json atomically; the caller holds the exclusive
// lock (or is creating the store). Entries are sorted by name (untagged ones
// last, by digest) so the file is deterministic.
func (s *Store) writeIndex(idx *ocispec.Index) error {
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	if idx.MediaType == "" {
		idx.MediaType = ocispec.MediaTypeImageIndex
	}
	slices.SortStableFunc(idx.Manifests, func(a, b ocispec.Descriptor) int {
		an, bn := storeRefName(a), storeRefName(b)
		if (an == "") != (bn == "") {
			if an == "" {
				return 1
			}
			return -1
		}
		return cmp.Or(strings.Compare(an, bn), strings.Compare(string(a.Digest), string(b.Digest)))
	})
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return s.writeFileAtomic(ocispec.ImageIndexFile, append(data, '\n'))
}

// writeFileAtomic writes DIR/name through a temporary file in DIR/ingest.
func (s *Store) writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, storeIngestDir), strings.TrimSuffix(name, ".json")+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", filepath.Join(s.dir, name), err)
	}
	return storeSyncDir(s.dir)
}

func storeSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func storeRefName(d ocispec.Descriptor) string { return d.Annotations[ocispec.AnnotationRefName] }

// storeLookup finds the entry named ref.
func storeLookup(idx *ocispec.Index, ref string) (ocispec.Descriptor, bool) {
	for _, e := range idx.Manifests {
		if storeRefName(e) == ref {
			return e, true
		}
	}
	return ocispec.Descriptor{}, false
}

// storeStripName returns d without its ref.name annotation.
func storeStripName(d ocispec.Descriptor) ocispec.Descriptor {
	if _, ok := d.Annotations[ocispec.AnnotationRefName]; !ok {
		return d
	}
	a := maps.Clone(d.Annotations)
	delete(a, ocispec.AnnotationRefName)
	if len(a) == 0 {
		a = nil
	}
	d.Annotations = a
	return d
}

func storePlain(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// storeCheckName accepts a full reference to use as a name.
func storeCheckName(ref string) error {
	if ref == "" {
		return fmt.Errorf("empty name: %w", errdef.ErrMissingReference)
	}
	if len(ref) > 1024 || strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("name %q: %w: it must be a full reference such as ghcr.io/org/probe:v1", ref, errdef.ErrInvalidReference)
	}
	return nil
}

// storeSplitName splits a full reference into repository, tag and digest:
// ghcr.io/org/probe:v1 → ghcr.io/org/probe, v1; localhost:5000/x → localhost:5000/x, "".
func storeSplitName(ref string) (repo, tag, dgst string) {
	repo = ref
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo, dgst = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, dgst
}

// Tag names desc (already in the store) with a full reference such as
// ghcr.io/org/probe:v1, replacing what the name pointed to before. Tagging
// with desc's own digest ("sha256:…") only checks that the content exists.
// It releases this Store's pins on the content reachable from desc.
func (s *Store) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	if err := storeCheckName(reference); err != nil {
		return err
	}
	idx, unlock, err := s.lockIndex(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	return s.tagLocked(ctx, idx, desc, reference)
}

func (s *Store) tagLocked(ctx context.Context, idx *ocispec.Index, desc ocispec.Descriptor, reference string) error {
	ok, err := s.hasBlob(desc)
	if err != nil {
		return fmt.Errorf("tag %s: %w", reference, err)
	}
	if !ok {
		return fmt.Errorf("tag %s: %w", reference, &storeNotFound{what: desc.Digest.String()})
	}
	if d, err := digest.Parse(reference); err == nil {
		if d != desc.Digest {
			return fmt.Errorf("tag %s: the digest differs from the content's %s: %w", reference, desc.Digest, errdef.ErrInvalidReference)
		}
		return nil
	}
	entry := storeStripName(desc)
	entry.Annotations = maps.Clone(entry.Annotations)
	if entry.Annotations == nil {
		entry.Annotations = map[string]string{}
	}
	entry.Annotations[ocispec.AnnotationRefName] = reference
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(e ocispec.Descriptor) bool { return storeRefName(e) == reference })
	idx.Manifests = append(idx.Manifests, entry)
	if err := s.writeIndex(idx); err != nil {
		return fmt.Errorf("tag %s: %w", reference, err)
	}
	reach := map[digest.Digest]ocispec.Descriptor{}
	if err := s.walk(ctx, []ocispec.Descriptor{desc}, reach, nil, nil); err != nil {
		return fmt.Errorf("tag %s: %w", reference, err)
	}
	return s.unpin(reach)
}

// TagRef gives the content named src (a full reference or a digest) the
// name dst as well (ecc tag SRC DST).
func (s *Store) TagRef(ctx context.Context, src, dst string) error {
	if err := storeCheckName(dst); err != nil {
		return err
	}
	idx, unlock, err := s.lockIndex(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	desc, err := s.resolveIn(ctx, idx, src)
	if err != nil {
		return fmt.Errorf("tag %s %s: %w", src, dst, err)
	}
	return s.tagLocked(ctx, idx, desc, dst)
}

// Resolve returns the descriptor a full reference names, or the descriptor
// of content given by digest ("sha256:…", or NAME@sha256:… when NAME is not
// itself a name in the store). The content found is pinned until tagged or
// until Close. Unknown references give an error wrapping ErrNotInStore.
func (s *Store) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	if reference == "" {
		return ocispec.Descriptor{}, errdef.ErrMissingReference
	}
	idx, unlock, err := s.lockIndex(ctx, false)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer unlock()
	desc, err := s.resolveIn(ctx, idx, reference)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, s.pin(desc)
}

// resolveIn resolves reference against idx; the caller holds a lock.
func (s *Store) resolveIn(ctx context.Context, idx *ocispec.Index, reference string) (ocispec.Descriptor, error) {
	if e, ok := storeLookup(idx, reference); ok {
		return storeStripName(e), nil
	}
	ds := reference
	if _, _, d := storeSplitName(reference); d != "" {
		ds = d
	}
	d, err := digest.Parse(ds)
	if err != nil {
		return ocispec.Descriptor{}, &storeNotFound{what: reference}
	}
	// A root entry first, then any node of the graph (it carries the media
	// type), then the bare blob.
	for _, e := range idx.Manifests {
		if e.Digest == d {
			return storeStripName(e), nil
		}
	}
	var found *ocispec.Descriptor
	errFound := errors.New("found")
	err = s.walk(ctx, idx.Manifests, map[digest.Digest]ocispec.Descriptor{}, nil, func(n ocispec.Descriptor) error {
		if n.Digest == d {
			found = &n
			return errFound
		}
		return nil
	})
	if found != nil {
		return *found, nil
	}
	if err != nil && !errors.Is(err, errFound) {
		return ocispec.Descriptor{}, err
	}
	p, err := s.blobPath(d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ocispec.Descriptor{}, &storeNotFound{what: reference}
	}
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: fi.Size()}
	if fi.Size() <= storeManifestMax {
		if data, err := s.readBlob(desc); err == nil {
			var m storeManifest
			if json.Unmarshal(data, &m) == nil && m.MediaType != "" {
				desc.MediaType = m.MediaType
				desc.ArtifactType = m.ArtifactType
			}
		}
	}
	return desc, nil
}

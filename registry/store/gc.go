package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Remove deletes the name reference and garbage-collects the blobs no longer
// reachable from any name (or pinned by a Store open in some process). An
// unknown name gives an error wrapping ErrNotInStore.
func (s *Store) Remove(ctx context.Context, reference string) error {
	idx, unlock, err := s.lockIndex(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	n := len(idx.Manifests)
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(e ocispec.Descriptor) bool { return storeRefName(e) == reference })
	if len(idx.Manifests) == n {
		return fmt.Errorf("remove %s: %w", reference, &storeNotFound{what: reference})
	}
	if err := s.writeIndex(idx); err != nil {
		return fmt.Errorf("remove %s: %w", reference, err)
	}
	if _, err := s.gcLocked(ctx); err != nil {
		return fmt.Errorf("remove %s: the name is gone but collecting its blobs failed: %w", reference, err)
	}
	return nil
}

// gc runs a garbage collection under the exclusive lock.
func (s *Store) gc(ctx context.Context) (int, error) {
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return 0, err
	}
	defer unlock()
	return s.gcLocked(ctx)
}

// gcLocked deletes every blob not reachable from a name, a live pin, or a
// referrer entry whose subject is reachable; untagged index entries that are
// none of these are dropped. Unreachable manifests are deleted before other
// blobs so that an interrupted collection never leaves a manifest without
// its content (oras.Copy skips the content of manifests that exist). It
// returns the number of blobs deleted.
func (s *Store) gcLocked(ctx context.Context) (int, error) {
	idx, err := s.readIndex()
	if err != nil {
		return 0, err
	}
	pins, err := s.sweepIngest()
	if err != nil {
		return 0, err
	}
	roots := pins
	var untagged []ocispec.Descriptor
	for _, e := range idx.Manifests {
		if storeRefName(e) != "" {
			roots = append(roots, e)
		} else {
			untagged = append(untagged, e)
		}
	}
	parsed := map[digest.Digest]*storeManifest{}
	reach := map[digest.Digest]ocispec.Descriptor{}
	if err := s.walk(ctx, roots, reach, parsed, nil); err != nil {
		return 0, err
	}
	// Referrers live while their subject does, transitively.
	for changed := true; changed; {
		changed = false
		for _, e := range untagged {
			if _, ok := reach[e.Digest]; ok || !IsManifest(e.MediaType) {
				continue
			}
			m, err := s.manifest(e, parsed)
			if err != nil || m.Subject == nil {
				continue
			}
			if _, ok := reach[m.Subject.Digest]; ok {
				if err := s.walk(ctx, []ocispec.Descriptor{e}, reach, parsed, nil); err != nil {
					return 0, err
				}
				changed = true
			}
		}
	}
	n := len(idx.Manifests)
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(e ocispec.Descriptor) bool {
		_, ok := reach[e.Digest]
		return storeRefName(e) == "" && !ok
	})
	if len(idx.Manifests) != n {
		if err := s.writeIndex(idx); err != nil {
			return 0, err
		}
	}

	// Collect the unreachable blobs, indexes first, then manifests.
	type victim struct {
		path string
		rank int
	}
	var victims []victim
	blobs := filepath.Join(s.dir, ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(blobs)
	if err != nil {
		return 0, err
	}
	for _, a := range algs {
		if !a.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(blobs, a.Name()))
		if err != nil {
			return 0, err
		}
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(digest.Algorithm(a.Name()), e.Name())
			if d.Validate() != nil || e.IsDir() {
				continue
			}
			if _, ok := reach[d]; ok {
				continue
			}
			p := filepath.Join(blobs, a.Name(), e.Name())
			victims = append(victims, victim{p, storeSniffRank(p)})
		}
	}
	slices.SortStableFunc(victims, func(a, b victim) int { return a.rank - b.rank })
	for _, v := range victims {
		if err := os.Remove(v.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
	}
	if len(victims) > 0 {
		for _, a := range algs {
			if a.IsDir() {
				storeSyncDir(filepath.Join(blobs, a.Name()))
			}
		}
	}
	return len(victims), nil
}

// storeSniffRank guesses what a blob is: 0 an index, 1 a manifest, 2 else.
func storeSniffRank(p string) int {
	fi, err := os.Stat(p)
	if err != nil || fi.Size() > storeManifestMax {
		return 2
	}
	data, err := os.ReadFile(p)
	if err != nil || len(data) == 0 || data[0] != '{' {
		return 2
	}
	var m storeManifest
	switch {
	case json.Unmarshal(data, &m) != nil:
		return 2
	case m.Manifests != nil:
		return 0
	case m.Config != nil || m.Layers != nil || m.Blobs != nil:
		return 1
	}
	return 2
}

package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("%q: %w: %w", d, errdef.ErrInvalidDigest, err)
	}
	return filepath.Join(s.dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

// hasBlob says whether the blob is present with the expected size.
func (s *Store) hasBlob(desc ocispec.Descriptor) (bool, error) {
	p, err := s.blobPath(desc.Digest)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.Mode().IsRegular() && fi.Size() == desc.Size, nil
}

// Exists reports whether the content is in the store (with the right size).
// Content found is pinned until it is tagged or the Store is closed.
func (s *Store) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	ok, err := s.hasBlob(desc)
	if err != nil || !ok {
		return false, err
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return false, err
	}
	defer unlock()
	// Re-check under the lock: a collector may have run in between.
	if ok, err = s.hasBlob(desc); err != nil || !ok {
		return false, err
	}
	return true, s.pin(desc)
}

// Fetch opens a blob. The reader checks the size and digest when read to the
// end, so a corrupted blob gives an error (wrapping ErrCorrupted and
// content.ErrMismatchedDigest) instead of io.EOF.
func (s *Store) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	p, err := s.blobPath(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("fetch from store: %w", err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &storeNotFound{what: "blob " + desc.Digest.String()}
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s from store: %w", desc.Digest, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fetch %s from store: %w", desc.Digest, err)
	}
	if fi.Size() != desc.Size {
		f.Close()
		return nil, fmt.Errorf("blob %s in the local store %s is %w: %d bytes, expected %d: %w",
			desc.Digest, s.dir, ErrCorrupted, fi.Size(), desc.Size, content.ErrInvalidDescriptorSize)
	}
	return &storeBlobReader{f: f, r: io.LimitReader(f, desc.Size), h: desc.Digest.Algorithm().Hash(), desc: desc, dir: s.dir}, nil
}

// storeBlobReader verifies size and digest at EOF.
type storeBlobReader struct {
	f    *os.File
	r    io.Reader
	h    hash.Hash
	n    int64
	desc ocispec.Descriptor
	dir  string
	err  error
}

func (r *storeBlobReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if err == io.EOF {
		if r.n != r.desc.Size {
			err = fmt.Errorf("blob %s in the local store %s is %w: %d bytes, expected %d: %w",
				r.desc.Digest, r.dir, ErrCorrupted, r.n, r.desc.Size, io.ErrUnexpectedEOF)
		} else if got := digest.NewDigest(r.desc.Digest.Algorithm(), r.h); got != r.desc.Digest {
			err = fmt.Errorf("blob %s in the local store %s is %w (its content hashes to %s): %w",
				r.desc.Digest, r.dir, ErrCorrupted, got, content.ErrMismatchedDigest)
		}
	}
	if err != nil {
		r.err = err
	}
	return n, err
}

func (r *storeBlobReader) Close() error { return r.f.Close() }

// readBlob reads and verifies a whole (small) blob.
func (s *Store) readBlob(desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size < 0 || desc.Size > storeManifestMax {
		return nil, fmt.Errorf("blob %s is %d bytes, more than the %d the store parses", desc.Digest, desc.Size, storeManifestMax)
	}
	rc, err := s.Fetch(context.Background(), desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Push stores content, verifying its size and digest while writing. On a
// mismatch it returns an error wrapping content.ErrMismatchedDigest (or
// content.ErrTrailingData / io.ErrUnexpectedEOF for a wrong size) naming the
// expected and actual digest, and leaves nothing behind. Content already
// present gives an error wrapping errdef.ErrAlreadyExists, as oras-go's
// stores do; oras.Copy ignores it. Pushed content is pinned until tagged.
func (s *Store) Push(ctx context.Context, expected ocispec.Descriptor, r io.Reader) error {
	err := s.push(ctx, expected, r)
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("store %s in %s: %w", expected.Digest, s.dir, err)
	}
	return err
}

func (s *Store) push(ctx context.Context, expected ocispec.Descriptor, r io.Reader) error {
	if _, err := s.blobPath(expected.Digest); err != nil {
		return err
	}
	if expected.Size < 0 {
		return fmt.Errorf("negative size %d: %w", expected.Size, content.ErrInvalidDescriptorSize)
	}
	if ok, err := s.Exists(ctx, expected); err != nil {
		return err
	} else if ok {
		if err := s.recordReferrer(ctx, expected, nil); err != nil {
			return err
		}
		return fmt.Errorf("%s: %w", expected.Digest, errdef.ErrAlreadyExists)
	}

	b, err := s.Stage(ctx, expected, r, nil)
	if err != nil {
		return err
	}
	return s.Commit(ctx, b)
}

// Staged is a blob verified in the store's ingest folder (flock'ed, so no
// collector removes it), not yet under blobs/: Commit moves it into place,
// Discard drops it.
type Staged struct {
	f     *os.File
	desc  ocispec.Descriptor
	final string
	keep  []byte // a manifest's content, to look for a subject
}

// Descriptor is the staged blob's descriptor.
func (b *Staged) Descriptor() ocispec.Descriptor { return b.desc }

// Pending reports whether the blob is still in the ingest folder: neither
// committed nor discarded.
func (b *Staged) Pending() bool { return b.f != nil }

// Open reads the content of a pending blob (verified when staged).
func (b *Staged) Open() (io.ReadCloser, error) {
	if b.f == nil {
		return nil, fmt.Errorf("blob %s is no longer staged", b.desc.Digest)
	}
	return os.Open(b.f.Name())
}

// Discard removes a staged blob that will not be committed; it does
// nothing to a committed one, or a nil one.
func (b *Staged) Discard() {
	if b != nil && b.f != nil {
		b.f.Close()
		os.Remove(b.f.Name())
		b.f = nil
	}
}

// Stage streams r into an ingest file, verifying size and digest while
// writing, and copies what it writes to tee when tee is not nil. Nothing is
// visible in the store until Commit; Discard drops it. A pull stages
// everything it fetches and commits only once all of it has arrived.
func (s *Store) Stage(ctx context.Context, expected ocispec.Descriptor, r io.Reader, tee io.Writer) (*Staged, error) {
	final, err := s.blobPath(expected.Digest)
	if err != nil {
		return nil, err
	}
	if expected.Size < 0 {
		return nil, fmt.Errorf("negative size %d: %w", expected.Size, content.ErrInvalidDescriptorSize)
	}
	// Create the ingest file under the shared lock and flock it before
	// releasing, so a collector never mistakes it for an abandoned one.
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, storeIngestDir), "blob-"+expected.Digest.Encoded()[:12]+"-*")
	if err == nil {
		if err = storeFlockFile(tmp); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}
	unlock()
	if err != nil {
		return nil, err
	}
	b := &Staged{f: tmp, desc: expected, final: final}
	ok := false
	defer func() {
		if !ok {
			b.Discard()
		}
	}()
	h := expected.Digest.Algorithm().Hash()
	var keep *bytes.Buffer // manifests are kept to look for a subject
	ws := []io.Writer{tmp, h}
	if IsManifest(expected.MediaType) && expected.Size <= storeManifestMax {
		keep = bytes.NewBuffer(make([]byte, 0, expected.Size))
		ws = append(ws, keep)
	}
	if tee != nil {
		ws = append(ws, tee)
	}
	n, err := io.Copy(io.MultiWriter(ws...), io.LimitReader(storeCtxReader{ctx, r}, expected.Size+1))
	if err != nil {
		return nil, err
	}
	switch {
	case n < expected.Size:
		return nil, fmt.Errorf("got %d bytes, expected %d: %w", n, expected.Size, io.ErrUnexpectedEOF)
	case n > expected.Size:
		return nil, fmt.Errorf("got more than the %d bytes expected: %w", expected.Size, content.ErrTrailingData)
	}
	if got := digest.NewDigest(expected.Digest.Algorithm(), h); got != expected.Digest {
		return nil, fmt.Errorf("expected digest %s, got %s: %w", expected.Digest, got, content.ErrMismatchedDigest)
	}
	if keep != nil {
		b.keep = keep.Bytes()
	}
	ok = true
	return b, nil
}

// Commit moves staged blobs into place (pinned until tagged, like pushed
// content), in the order given, then keeps those that are manifests with a
// subject as referrers (see Push). Order them so that a manifest never
// lands before its content.
func (s *Store) Commit(ctx context.Context, blobs ...*Staged) error {
	if err := s.commit(ctx, blobs...); err != nil {
		return err
	}
	for _, b := range blobs {
		if b.keep != nil {
			if err := s.recordReferrer(ctx, b.desc, b.keep); err != nil {
				return err
			}
		}
	}
	return nil
}

// commit moves staged blobs into place (pinned) under one shared lock.
// Blobs are not fsynced: every read verifies the digest, so a blob a crash
// tore is found and fetched again. Names (index.json) are synced.
func (s *Store) commit(ctx context.Context, blobs ...*Staged) error {
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	descs := make([]ocispec.Descriptor, len(blobs))
	for i, b := range blobs {
		descs[i] = b.desc
	}
	if err := s.pin(descs...); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := s.commitBlob(b.f, b.final); err != nil {
			return err
		}
		b.f = nil
	}
	return nil
}

// commitBlob renames an ingest file, pinned, into place; the caller holds
// the shared lock.
func (s *Store) commitBlob(tmp *os.File, final string) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	// Concurrent writers of the same blob write the same bytes: the last
	// rename wins and readers see either file, both complete.
	if err := os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	tmp.Close()
	return nil
}

// recordReferrer keeps a pushed manifest that has a subject (a signature, an
// SBOM…) as an untagged entry of index.json, so that it survives garbage
// collection while its subject is in the store and Predecessors finds it.
// data is the manifest's content when the caller has it.
func (s *Store) recordReferrer(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	if !IsManifest(desc.MediaType) || desc.Size > storeManifestMax {
		return nil
	}
	if data == nil {
		var err error
		if data, err = s.readBlob(desc); err != nil {
			return err
		}
	}
	var m storeManifest
	if json.Unmarshal(data, &m) != nil || m.Subject == nil {
		return nil
	}
	idx, unlock, err := s.lockIndex(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	for _, e := range idx.Manifests {
		if e.Digest == desc.Digest {
			return nil
		}
	}
	entry := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size,
		ArtifactType: cmp.Or(desc.ArtifactType, m.ArtifactType, m.configMediaType()), Annotations: m.Annotations}
	idx.Manifests = append(idx.Manifests, entry)
	return s.writeIndex(idx)
}

// storeCtxReader stops a copy when the context is done.
type storeCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c storeCtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

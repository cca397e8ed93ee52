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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// ErrNotInStore is wrapped by errors for names and content the local store
// does not hold. Such errors also match oras-go's errdef.ErrNotFound (which
// is registry.ErrNotFound).
var ErrNotInStore = errors.New("not in the local store (run 'ecc images' to list the store)")

var _ oras.GraphTarget = (*Store)(nil)

const (
	storeLockFile  = ".lock"
	storeIngestDir = "ingest"
	// storeManifestMax bounds the manifests and configs the store parses.
	storeManifestMax = 4 << 20
	// media types of Docker manifests, which the store also walks.
	storeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	storeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	storeArtifactManifest   = "application/vnd.oci.artifact.manifest.v1+json"
)

// DefaultDir is $ECC_STORE_DIR, else $XDG_DATA_HOME/ecc/store, else
// ~/.local/share/ecc/store.
func DefaultDir() string {
	if d := os.Getenv("ECC_STORE_DIR"); d != "" {
		return d
	}
	// The XDG spec says relative values are invalid and must be ignored.
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "ecc", "store")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "share", "ecc", "store")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("ecc-store-%d", os.Getuid()))
}

// Image is one name in the store, as `ecc images` shows it.
type Image struct {
	// Reference is the full name, e.g. ghcr.io/org/probe:v1.
	Reference string
	// Repository and Tag split Reference (ghcr.io/org/probe, v1); Tag is
	// empty for a name that holds only a digest (repo@sha256:…).
	Repository, Tag string
	// Digest of the index or manifest the name points to.
	Digest string
	// MediaType of that index or manifest.
	MediaType string
	// Platforms, e.g. linux/amd64 and linux/arm64 for an index; for a single
	// manifest its descriptor's platform or its image config's os/architecture.
	Platforms []string
	// Size is the total of the distinct manifests, configs and layers
	// reachable from the name.
	Size int64
	// Created is the org.opencontainers.image.created annotation, if any.
	Created time.Time
	// Title is the org.opencontainers.image.title annotation, if any.
	Title string
}

// Store is the local OCI-layout store. It implements oras.GraphTarget, with
// full references (ghcr.io/org/probe:v1) as tags, and is safe for concurrent
// use by goroutines and by processes sharing the directory. Close it to
// release the content it pinned.
type Store struct {
	dir string

	mu   sync.Mutex // guards sess
	sess *storeSession
}

// storeSession is the pin set of a Store and its flock'ed file.
type storeSession struct {
	f    *os.File
	pins map[digest.Digest]ocispec.Descriptor
}

// storeNotFound is an ErrNotInStore error.
type storeNotFound struct{ what string }

func (e *storeNotFound) Error() string { return e.what + ": " + ErrNotInStore.Error() }

func (e *storeNotFound) Is(target error) bool {
	return target == ErrNotInStore || target == errdef.ErrNotFound
}

// Open opens the store in dir, creating the layout (oci-layout,
// index.json, blobs/sha256) if it is missing.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s := &Store{dir: abs}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	if _, err := os.Stat(filepath.Join(abs, ocispec.ImageLayoutFile)); errors.Is(err, fs.ErrNotExist) {
		// Refuse to turn a folder with other things in it (ECC_STORE_DIR=~)
		// into a store.
		ents, err := os.ReadDir(abs)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", abs, err)
		}
		for _, e := range ents {
			switch e.Name() {
			case ocispec.ImageBlobsDir, storeIngestDir, storeLockFile, ocispec.ImageIndexFile,
				ocispec.ImageLayoutFile: // another process is creating the store
			default:
				return nil, fmt.Errorf("open store %s: the folder holds %s but no %s file, so it is not a store; set ECC_STORE_DIR to a new or empty folder",
					abs, e.Name(), ocispec.ImageLayoutFile)
			}
		}
	}
	for _, d := range []string{filepath.Join(abs, ocispec.ImageBlobsDir, "sha256"), filepath.Join(abs, storeIngestDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open store %s: %w", abs, err)
		}
	}
	if err := s.checkLayout(); err == nil {
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// Something is missing: create it under the exclusive lock, so that two
	// processes opening a new store do not race.
	unlock, err := s.lock(context.Background(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.checkLayout(); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if _, err := os.Stat(filepath.Join(abs, ocispec.ImageLayoutFile)); errors.Is(err, fs.ErrNotExist) {
		data, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		if err := s.writeFileAtomic(ocispec.ImageLayoutFile, data); err != nil {
			return nil, fmt.Errorf("open store %s: %w", abs, err)
		}
	}
	if _, err := os.Stat(filepath.Join(abs, ocispec.ImageIndexFile)); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeIndex(storeEmptyIndex()); err != nil {
			return nil, fmt.Errorf("open store %s: %w", abs, err)
		}
	}
	return s, s.checkLayout()
}

// checkLayout validates oci-layout and the presence of index.json; a missing
// file gives an error wrapping fs.ErrNotExist.
func (s *Store) checkLayout() error {
	data, err := os.ReadFile(filepath.Join(s.dir, ocispec.ImageLayoutFile))
	if err != nil {
		return err
	}
	var l ocispec.ImageLayout
	if err := json.Unmarshal(data, &l); err != nil || l.Version != ocispec.ImageLayoutVersion {
		return fmt.Errorf("open store %s: %s is not an OCI layout version %s file; move the folder away or set ECC_STORE_DIR",
			s.dir, ocispec.ImageLayoutFile, ocispec.ImageLayoutVersion)
	}
	_, err = os.Stat(filepath.Join(s.dir, ocispec.ImageIndexFile))
	return err
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close releases the content this Store pinned. The Store stays usable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return nil
	}
	sess := s.sess
	s.sess = nil
	err := os.Remove(sess.f.Name())
	if cerr := sess.f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("close store %s: %w", s.dir, err)
	}
	return nil
}

// lock takes the store lock (shared or exclusive) and returns its release.
func (s *Store) lock(ctx context.Context, exclusive bool) (func(), error) {
	unlock, err := storeFlock(ctx, filepath.Join(s.dir, storeLockFile), exclusive)
	if err != nil {
		return nil, fmt.Errorf("lock store %s: %w", s.dir, err)
	}
	return unlock, nil
}

// ---- blobs -----------------------------------------------------------------

func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("%q: %w: %v", d, errdef.ErrInvalidDigest, err)
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
// end, so a corrupted blob gives an error (wrapping
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
		return nil, fmt.Errorf("blob %s in the local store %s is corrupted: %d bytes, expected %d: %w; remove the image with 'ecc rm' and pull it again",
			desc.Digest, s.dir, fi.Size(), desc.Size, content.ErrInvalidDescriptorSize)
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
			err = fmt.Errorf("blob %s in the local store %s is corrupted: %d bytes, expected %d: %w; remove the image with 'ecc rm' and pull it again",
				r.desc.Digest, r.dir, r.n, r.desc.Size, io.ErrUnexpectedEOF)
		} else if got := digest.NewDigest(r.desc.Digest.Algorithm(), r.h); got != r.desc.Digest {
			err = fmt.Errorf("blob %s in the local store %s is corrupted (its content hashes to %s): %w; remove the image with 'ecc rm' and pull it again",
				r.desc.Digest, r.dir, got, content.ErrMismatchedDigest)
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
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
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

// ---- pins ------------------------------------------------------------------

// pin records descs in this Store's session file (rewritten once); the
// caller holds the store lock (shared or exclusive), which makes it atomic
// for the collector.
func (s *Store) pin(descs ...ocispec.Descriptor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		f, err := os.CreateTemp(filepath.Join(s.dir, storeIngestDir), "session-*")
		if err != nil {
			return fmt.Errorf("pin content in store: %w", err)
		}
		if err := storeFlockFile(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("pin content in store: %w", err)
		}
		s.sess = &storeSession{f: f, pins: map[digest.Digest]ocispec.Descriptor{}}
	}
	changed := false
	for _, desc := range descs {
		if _, ok := s.sess.pins[desc.Digest]; !ok {
			s.sess.pins[desc.Digest] = storePlain(desc)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return s.sess.save()
}

// unpin releases the pins on the given digests; the caller holds the
// exclusive lock.
func (s *Store) unpin(reach map[digest.Digest]ocispec.Descriptor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return nil
	}
	n := len(s.sess.pins)
	maps.DeleteFunc(s.sess.pins, func(d digest.Digest, _ ocispec.Descriptor) bool { _, ok := reach[d]; return ok })
	if len(s.sess.pins) == n {
		return nil
	}
	return s.sess.save()
}

// save rewrites the session file: one JSON descriptor a line. Collectors
// read it only under the exclusive lock, while writers hold the store lock,
// so it is never read half-written.
func (ss *storeSession) save() error {
	var b bytes.Buffer
	for _, d := range slices.Sorted(maps.Keys(ss.pins)) {
		line, _ := json.Marshal(ss.pins[d])
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := ss.f.Truncate(0); err != nil {
		return err
	}
	_, err := ss.f.WriteAt(b.Bytes(), 0)
	return err
}

// sweepIngest reads the pins of live sessions and deletes the session and
// ingest files of dead processes. The caller holds the exclusive lock.
func (s *Store) sweepIngest() ([]ocispec.Descriptor, error) {
	dir := filepath.Join(s.dir, storeIngestDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var pins []ocispec.Descriptor
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		free, err := storeTryLock(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if free {
			// Nobody holds it: its process is gone (ingest files are
			// flock'ed from creation, under the shared lock).
			os.Remove(p)
			f.Close()
			continue
		}
		if strings.HasPrefix(e.Name(), "session-") {
			data, err := io.ReadAll(f)
			if err != nil {
				f.Close()
				return nil, err
			}
			for line := range bytes.Lines(data) {
				var d ocispec.Descriptor
				if json.Unmarshal(line, &d) == nil && d.Digest != "" {
					pins = append(pins, d)
				}
			}
		}
		f.Close()
	}
	return pins, nil
}

// ---- index.json ------------------------------------------------------------

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

// ---- names -----------------------------------------------------------------

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
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
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
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
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
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
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

// ---- graph -----------------------------------------------------------------

// storeManifest holds what the store reads from any manifest or index.
type storeManifest struct {
	MediaType    string               `json:"mediaType"`
	ArtifactType string               `json:"artifactType"`
	Config       *ocispec.Descriptor  `json:"config"`
	Layers       []ocispec.Descriptor `json:"layers"`
	Manifests    []ocispec.Descriptor `json:"manifests"`
	Blobs        []ocispec.Descriptor `json:"blobs"`
	Subject      *ocispec.Descriptor  `json:"subject"`
	Annotations  map[string]string    `json:"annotations"`
}

func (m *storeManifest) configMediaType() string {
	if m.Config != nil {
		return m.Config.MediaType
	}
	return ""
}

// IsManifest reports whether content of media type mt is a manifest or an
// index (OCI or Docker, or an OCI artifact manifest): a node with successors,
// which the store walks and keeps referrers of. Which of them ecc reads as a
// package is packager.CheckManifestType's business.
func IsManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, storeDockerManifest, storeDockerManifestList, storeArtifactManifest:
		return true
	}
	return false
}

// successors mirrors oras-go's content.Successors.
func (m *storeManifest) successors(mt string) []ocispec.Descriptor {
	var out []ocispec.Descriptor
	if m.Subject != nil && mt != storeDockerManifest && mt != storeDockerManifestList {
		out = append(out, *m.Subject)
	}
	switch mt {
	case ocispec.MediaTypeImageManifest, storeDockerManifest:
		if m.Config != nil {
			out = append(out, *m.Config)
		}
		out = append(out, m.Layers...)
	case ocispec.MediaTypeImageIndex, storeDockerManifestList:
		out = append(out, m.Manifests...)
	case storeArtifactManifest:
		out = append(out, m.Blobs...)
	}
	return out
}

// walk visits every node reachable from roots that is not yet in seen,
// recording it there. Missing manifests are not descended into (a partial
// pull); a corrupted one is an error. parsed, when not nil, caches parsed
// manifests; visit, when not nil, is called for each node.
func (s *Store) walk(ctx context.Context, roots []ocispec.Descriptor, seen map[digest.Digest]ocispec.Descriptor,
	parsed map[digest.Digest]*storeManifest, visit func(ocispec.Descriptor) error) error {
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if _, ok := seen[n.Digest]; ok {
			continue
		}
		seen[n.Digest] = n
		if visit != nil {
			if err := visit(n); err != nil {
				return err
			}
		}
		if !IsManifest(n.MediaType) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := s.manifest(n, parsed)
		if err != nil {
			if errors.Is(err, ErrNotInStore) {
				continue
			}
			return err
		}
		queue = append(queue, m.successors(n.MediaType)...)
	}
	return nil
}

// manifest reads and parses a manifest or index.
func (s *Store) manifest(d ocispec.Descriptor, parsed map[digest.Digest]*storeManifest) (*storeManifest, error) {
	if m, ok := parsed[d.Digest]; ok {
		return m, nil
	}
	data, err := s.readBlob(d)
	if err != nil {
		return nil, err
	}
	var m storeManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s in the local store %s: %w", d.Digest, s.dir, err)
	}
	if parsed != nil {
		parsed[d.Digest] = &m
	}
	return &m, nil
}

// Predecessors returns the manifests and indexes in the store that point to
// node (including referrers through their subject).
func (s *Store) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	parsed := map[digest.Digest]*storeManifest{}
	seen := map[digest.Digest]ocispec.Descriptor{}
	var preds []ocispec.Descriptor
	err = s.walk(ctx, idx.Manifests, seen, parsed, func(n ocispec.Descriptor) error {
		if !IsManifest(n.MediaType) {
			return nil
		}
		m, err := s.manifest(n, parsed)
		if err != nil {
			return nil // reported by walk
		}
		for _, c := range m.successors(n.MediaType) {
			if c.Digest == node.Digest {
				preds = append(preds, storeStripName(n))
				break
			}
		}
		return nil
	})
	return preds, err
}

// ---- listing ---------------------------------------------------------------

// List returns the named images, sorted by repository then tag.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	parsed := map[digest.Digest]*storeManifest{}
	var out []Image
	for _, e := range idx.Manifests {
		name := storeRefName(e)
		if name == "" {
			continue
		}
		img, err := s.describe(ctx, name, storeStripName(e), parsed)
		if err != nil {
			return nil, fmt.Errorf("list store %s: %s: %w", s.dir, name, err)
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b Image) int {
		return cmp.Or(strings.Compare(a.Repository, b.Repository), strings.Compare(a.Tag, b.Tag), strings.Compare(a.Reference, b.Reference))
	})
	return out, nil
}

func (s *Store) describe(ctx context.Context, name string, root ocispec.Descriptor, parsed map[digest.Digest]*storeManifest) (Image, error) {
	img := Image{Reference: name, Digest: root.Digest.String(), MediaType: root.MediaType}
	img.Repository, img.Tag, _ = storeSplitName(name)
	seen := map[digest.Digest]ocispec.Descriptor{}
	// A corrupted manifest shows as a smaller image here rather than
	// failing the whole listing; Fetch reports it.
	if err := s.walk(ctx, []ocispec.Descriptor{root}, seen, parsed, nil); err != nil && ctx.Err() != nil {
		return img, err
	}
	for _, d := range seen {
		img.Size += d.Size
	}
	// Annotations: the index.json entry, then the root's content, then the
	// first child manifest that has them.
	annots := []map[string]string{root.Annotations}
	var m *storeManifest
	if IsManifest(root.MediaType) {
		if mm, err := s.manifest(root, parsed); err == nil {
			m = mm
			annots = append(annots, m.Annotations)
		}
	}
	var children []ocispec.Descriptor
	if m != nil && (root.MediaType == ocispec.MediaTypeImageIndex || root.MediaType == storeDockerManifestList) {
		children = m.Manifests
		for _, c := range children {
			if p := s.platform(c, parsed); p != "" && !slices.Contains(img.Platforms, p) {
				img.Platforms = append(img.Platforms, p)
			}
		}
		for _, c := range children {
			if cm, err := s.manifest(c, parsed); err == nil && IsManifest(c.MediaType) {
				annots = append(annots, cm.Annotations)
			}
		}
	} else if p := s.platform(root, parsed); p != "" {
		img.Platforms = []string{p}
	}
	for _, a := range annots {
		if img.Title == "" {
			img.Title = a[ocispec.AnnotationTitle]
		}
		if v := a[ocispec.AnnotationCreated]; img.Created.IsZero() && v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				img.Created = t
			}
		}
	}
	return img, nil
}

// platform is os/arch[/variant] of a manifest: its descriptor's platform,
// else the os and architecture of its config.
func (s *Store) platform(d ocispec.Descriptor, parsed map[digest.Digest]*storeManifest) string {
	p := d.Platform
	if p == nil && (d.MediaType == ocispec.MediaTypeImageManifest || d.MediaType == storeDockerManifest) {
		if m, err := s.manifest(d, parsed); err == nil && m.Config != nil && m.Config.Size <= storeManifestMax {
			if data, err := s.readBlob(*m.Config); err == nil {
				var cfg ocispec.Platform
				if json.Unmarshal(data, &cfg) == nil && cfg.OS != "" && cfg.Architecture != "" {
					p = &cfg
				}
			}
		}
	}
	if p == nil || p.OS == "" {
		return ""
	}
	out := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		out += "/" + p.Variant
	}
	return out
}

// ---- removal and garbage collection ----------------------------------------

// Remove deletes the name reference and garbage-collects the blobs no longer
// reachable from any name (or pinned by a Store open in some process). An
// unknown name gives an error wrapping ErrNotInStore.
func (s *Store) Remove(ctx context.Context, reference string) error {
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
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

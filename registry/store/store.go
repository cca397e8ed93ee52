package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
)

// ErrNotInStore is wrapped by errors for names and content the local store
// does not hold. Such errors also match oras-go's errdef.ErrNotFound (which
// is registry.ErrNotFound).
var ErrNotInStore = errors.New("not in the local store")

// ErrCorrupted is wrapped by errors for blobs of the store whose size or
// digest is not what their descriptor says (the disk, or someone, changed
// them): the image must be removed and pulled again.
var ErrCorrupted = errors.New("corrupted")

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

// lockIndex takes the store lock (shared or exclusive) and reads the
// index under it; the caller releases the lock with unlock.
func (s *Store) lockIndex(ctx context.Context, exclusive bool) (idx *ocispec.Index, unlock func(), err error) {
	if unlock, err = s.lock(ctx, exclusive); err != nil {
		return nil, nil, err
	}
	if idx, err = s.readIndex(); err != nil {
		unlock()
		return nil, nil, err
	}
	return idx, unlock, nil
}

package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

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

// Package buildcache is a content-addressed store of build outputs.
//
// An entry is found by a key the caller computes from everything it knows
// before building (the source, flags, compiler, BTF). The compiler then reports
// the files it actually read (headers), and each entry records them with their
// size, modification time and SHA-256; an entry is only used while every one
// of those files is unchanged. This is ccache's "direct mode": one hash of the
// inputs the caller knows, one stat per dependency on a hit, and a hash only
// for a dependency whose stat changed.
//
// Entries are written to a temporary folder and renamed into place, so
// concurrent builds never see a partial entry.
package buildcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Cache is a build cache rooted at a folder.
type Cache struct {
	dir string
}

// Open returns the cache rooted at dir, creating it.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return &Cache{dir: dir}, nil
}

// Dir is the cache's root folder.
func (c *Cache) Dir() string { return c.dir }

// Dep is a file a build read.
type Dep struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"`
	Sum     string `json:"sha256"`
}

type manifest struct {
	Deps  []Dep    `json:"deps"`
	Files []string `json:"files"`
}

// Entry is a cached build's outputs.
type Entry struct {
	dir   string
	Files []string
}

// Path returns the path of the named output file in the entry.
func (e *Entry) Path(name string) string { return filepath.Join(e.dir, name) }

// Key hashes its parts into a cache key; parts are length-prefixed so that
// ("ab","c") and ("a","bc") differ.
func Key(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) entryDir(key string) string {
	return filepath.Join(c.dir, key[:2], key)
}

// Get returns the entry for key when it exists and every file it depends on
// is unchanged.
func (c *Cache) Get(key string) (*Entry, bool) {
	dir := c.entryDir(key)
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, false
	}
	var m manifest
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	for _, d := range m.Deps {
		if !d.unchanged() {
			return nil, false
		}
	}
	for _, f := range m.Files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, false
		}
	}
	return &Entry{dir: dir, Files: m.Files}, true
}

func (d Dep) unchanged() bool {
	st, err := os.Stat(d.Path)
	if err != nil || st.IsDir() {
		return false
	}
	if st.Size() == d.Size && st.ModTime().UnixNano() == d.ModTime {
		return true
	}
	if st.Size() != d.Size {
		return false
	}
	sum, err := FileSum(d.Path)
	return err == nil && sum == d.Sum
}

// FileSum returns the hex SHA-256 of a file's content.
func FileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NewDep records a dependency's current state.
func NewDep(path string) (Dep, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Dep{}, err
	}
	sum, err := FileSum(path)
	if err != nil {
		return Dep{}, err
	}
	return Dep{Path: path, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Sum: sum}, nil
}

// Put stores files (output name → path of the file to copy) under key, with
// the files the build depended on.
func (c *Cache) Put(key string, files map[string]string, deps []Dep) (*Entry, error) {
	final := c.entryDir(key)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".tmp-"+key[:8]+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	m := manifest{Deps: deps}
	for name, src := range files {
		if strings.ContainsAny(name, `/\`) {
			return nil, fmt.Errorf("build cache: bad file name %q", name)
		}
		if err := copyFile(src, filepath.Join(tmp, name)); err != nil {
			return nil, err
		}
		m.Files = append(m.Files, name)
	}
	b, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), b, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		// An entry is there. While it is valid, it stays: readers may be
		// copying from it, and it holds what we built (same key, same
		// dependencies). Only a stale one (a dependency changed) is replaced.
		if e, ok := c.Get(key); ok {
			return e, nil
		}
		old := final + ".old-" + filepath.Base(tmp)
		if os.Rename(final, old) == nil {
			os.RemoveAll(old)
		}
		if err := os.Rename(tmp, final); err != nil && !errors.Is(err, os.ErrExist) {
			if e, ok := c.Get(key); ok {
				return e, nil
			}
			return nil, fmt.Errorf("build cache: %w", err)
		}
	}
	return &Entry{dir: final, Files: m.Files}, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

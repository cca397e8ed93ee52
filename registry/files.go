package registry

import (
	"compress/zlib"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/store"
)

// WriteFiles writes a pulled package's files into dir (created if needed):
// package.json and NAME.bpf.o for a BPF package, NAME.wasm when it has a
// Wasm module (copied from the store, verified on the way). It returns the
// paths written.
//
// NAME comes from the registry, so it is used only when it is a plain name
// (packager.ValidName; Pull falls back to the metadata's object name, then
// to "package"), and every file is written through an os.Root opened on
// dir, so nothing can land outside it (not through "..", an absolute name
// or a symbolic link). Files are written under temporary names first and
// renamed into place only when all are complete: a failure leaves no file
// behind (nor the folders it made), and readers never see a partial one.
// A file already there is replaced only with overwrite; otherwise the error
// is an *ExistsError naming it, and nothing is written.
func WriteFiles(ctx context.Context, st *store.Store, p *Pulled, dir string, overwrite bool) ([]string, error) {
	w, err := newFileWriter(dir, p.Package.Name, overwrite)
	if err != nil {
		return nil, err
	}
	if err := w.addPackage(p); err != nil {
		w.abort()
		return nil, err
	}
	if err := w.addWasm(ctx, st, p); err != nil {
		w.abort()
		return nil, err
	}
	return w.commit()
}

// fileWriter writes a package's files into a folder: each to a temporary
// name in an os.Root, all renamed into place by commit.
type fileWriter struct {
	dir       string
	name      string
	overwrite bool
	root      *os.Root
	temps     []string // temporary names, in the order of finals
	final     []string
	created   []string // folders made for dir, innermost first
	done      bool     // committed: the folders stay
}

// ExistsError is a file that a pull would write and that is there already
// (PullOptions.Overwrite, --force, replaces it). It matches fs.ErrExist.
type ExistsError struct {
	// Path is the file, in the folder given.
	Path string
}

func (e *ExistsError) Error() string        { return e.Path + " already exists" }
func (e *ExistsError) Is(target error) bool { return target == fs.ErrExist }

func newFileWriter(dir, name string, overwrite bool) (*fileWriter, error) {
	if !packager.ValidName(name) {
		return nil, fmt.Errorf("the package name %q is not a plain file name", name)
	}
	w := &fileWriter{dir: dir, name: name, overwrite: overwrite}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		w.created = append(w.created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.abort()
		return nil, fmt.Errorf("write into %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		w.abort()
		return nil, fmt.Errorf("write into %s: %w", dir, err)
	}
	w.root = root
	return w, nil
}

// check refuses, unless overwrite, a file of names that is there already.
func (w *fileWriter) check(names []string) error {
	if w.overwrite {
		return nil
	}
	for _, n := range names {
		if _, err := w.root.Lstat(n); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return &ExistsError{Path: filepath.Join(w.dir, n)}
		}
	}
	return nil
}

// names are the files p has: package.json and NAME.bpf.o for a BPF
// package, NAME.wasm when it has a Wasm module.
func (w *fileWriter) names(p *Pulled) []string {
	var out []string
	if p.Package.Package != nil {
		out = append(out, "package.json", w.name+".bpf.o")
	}
	if p.Package.Wasm != nil || (p.Manifest != nil && p.Manifest.Wasm != nil) {
		out = append(out, w.name+".wasm")
	}
	return out
}

// addPackage writes package.json and NAME.bpf.o of a BPF package, and
// NAME.wasm when the package holds the module in memory.
func (w *fileWriter) addPackage(p *Pulled) error {
	pp := p.Package
	if pp.Package != nil {
		// The object is compressed for speed: a pull should not take
		// longer than the transfer (the registry holds it raw).
		data, err := pp.Package.MarshalLevel(zlib.HuffmanOnly)
		if err != nil {
			return err
		}
		if err := w.add("package.json", data, nil); err != nil {
			return err
		}
		if err := w.add(w.name+".bpf.o", pp.Package.Object, nil); err != nil {
			return err
		}
	}
	if pp.Wasm != nil {
		return w.add(w.name+".wasm", pp.Wasm, nil)
	}
	return nil
}

// addWasm copies NAME.wasm from the store when the package did not hold
// the module in memory.
func (w *fileWriter) addWasm(ctx context.Context, st *store.Store, p *Pulled) error {
	if p.Package.Wasm != nil || p.Manifest == nil || p.Manifest.Wasm == nil {
		return nil
	}
	wd := *p.Manifest.Wasm
	return w.add(w.name+".wasm", nil, func() (io.ReadCloser, error) { return st.Fetch(ctx, wd) })
}

// add writes data (or what open gives) to a new hidden file named after
// name.
func (w *fileWriter) add(name string, data []byte, open func() (io.ReadCloser, error)) error {
	var f *os.File
	var tmp string
	for range 10 {
		var rnd [8]byte
		rand.Read(rnd[:])
		tmp = "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
		var err error
		f, err = w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: %w", filepath.Join(w.dir, name), err)
		}
	}
	if f == nil {
		return fmt.Errorf("write %s: cannot create a temporary file", filepath.Join(w.dir, name))
	}
	var err error
	if open != nil {
		var rc io.ReadCloser
		if rc, err = open(); err == nil {
			_, err = io.Copy(f, rc)
			rc.Close()
		}
	} else {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.root.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Join(w.dir, name), err)
	}
	w.temps = append(w.temps, tmp)
	w.final = append(w.final, name)
	return nil
}

// commit moves every file into place and returns their paths. Without
// overwrite, a file that appeared meanwhile is not replaced: the files
// placed before it are taken back and the error is an *ExistsError.
func (w *fileWriter) commit() ([]string, error) {
	defer w.abort()
	if len(w.final) == 0 {
		return nil, errors.New("the package has no files to write")
	}
	if err := w.check(w.final); err != nil {
		return nil, err
	}
	var paths []string
	for i, name := range w.final {
		if err := w.place(w.temps[i], name); err != nil {
			for _, placed := range w.final[:i] {
				w.root.Remove(placed)
			}
			return nil, err
		}
		w.temps[i] = ""
		paths = append(paths, filepath.Join(w.dir, name))
	}
	w.done = true
	return paths, nil
}

// place renames tmp to name; without overwrite through a hard link, which
// fails rather than replace a file, where the file system has them.
func (w *fileWriter) place(tmp, name string) error {
	if !w.overwrite {
		err := w.root.Link(tmp, name)
		if err == nil {
			w.root.Remove(tmp)
			return nil
		}
		if errors.Is(err, fs.ErrExist) {
			return &ExistsError{Path: filepath.Join(w.dir, name)}
		}
		// No hard links here: checked above, renamed below.
	}
	if err := w.root.Rename(tmp, name); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(w.dir, name), err)
	}
	return nil
}

// abort removes the temporary files left, closes the root and, unless the
// files were committed, removes the folders made for them (if empty).
func (w *fileWriter) abort() {
	if w == nil {
		return
	}
	if w.root != nil {
		for _, t := range w.temps {
			if t != "" {
				w.root.Remove(t)
			}
		}
		w.temps = nil
		w.root.Close()
		w.root = nil
	}
	if !w.done {
		for _, d := range w.created {
			if os.Remove(d) != nil {
				break
			}
		}
		w.created = nil
	}
}

package registry

import (
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
// behind, and readers never see a partial one.
func WriteFiles(ctx context.Context, store *Store, p *Pulled, dir string) ([]string, error) {
	pp := p.Package
	name := pp.Name
	if !packager.ValidName(name) {
		return nil, fmt.Errorf("the package name %q is not a plain file name", name)
	}
	type file struct {
		name string
		data []byte                        // the content, or
		open func() (io.ReadCloser, error) // where to copy it from
	}
	var files []file
	if pp.Package != nil {
		data, err := pp.Package.Marshal()
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: "package.json", data: data}, file{name: name + ".bpf.o", data: pp.Package.Object})
	}
	switch {
	case pp.Wasm != nil:
		files = append(files, file{name: name + ".wasm", data: pp.Wasm})
	case p.Manifest != nil && p.Manifest.Wasm != nil:
		wd := *p.Manifest.Wasm
		files = append(files, file{name: name + ".wasm", open: func() (io.ReadCloser, error) { return store.Fetch(ctx, wd) }})
	}
	if len(files) == 0 {
		return nil, errors.New("the package has no files to write")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write into %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("write into %s: %w", dir, err)
	}
	defer root.Close()
	var temps []string
	defer func() {
		for _, t := range temps {
			root.Remove(t)
		}
	}()
	for _, f := range files {
		tmp, err := writeTemp(root, f.name, f.data, f.open)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", filepath.Join(dir, f.name), err)
		}
		temps = append(temps, tmp)
	}
	var paths []string
	for i, f := range files {
		if err := root.Rename(temps[i], f.name); err != nil {
			return nil, fmt.Errorf("write %s: %w", filepath.Join(dir, f.name), err)
		}
		temps[i] = ""
		paths = append(paths, filepath.Join(dir, f.name))
	}
	temps = nil
	return paths, nil
}

// writeTemp writes data (or what open gives) to a new hidden file in root
// named after name, and returns its name.
func writeTemp(root *os.Root, name string, data []byte, open func() (io.ReadCloser, error)) (string, error) {
	var f *os.File
	var tmp string
	for range 10 {
		var rnd [8]byte
		rand.Read(rnd[:])
		tmp = "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
		var err error
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	if f == nil {
		return "", errors.New("cannot create a temporary file")
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
		root.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

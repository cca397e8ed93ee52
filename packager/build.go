package packager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// missingError is a PACKAGE that does not exist; it matches fs.ErrNotExist.
type missingError struct {
	path string
	err  error
}

func (e *missingError) Error() string { return "package " + e.path + ": no such file or folder" }
func (e *missingError) Unwrap() error { return e.err }

// OpenBuild reads what `ecc build` wrote, for pushing: a package.json, or a
// build folder with the package of the first architecture at the top and
// one folder per other architecture (DIR/arm64/package.json). A NAME.wasm
// beside a package.json is that package's Wasm module. A path that does not
// exist gives an error matching fs.ErrNotExist.
func OpenBuild(path string) ([]PlatformPackage, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &missingError{path: path, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", path, err)
	}
	if !st.IsDir() {
		pp, err := openPlatform(path)
		if err != nil {
			return nil, err
		}
		return []PlatformPackage{*pp}, nil
	}
	top := filepath.Join(path, "package.json")
	var out []PlatformPackage
	if _, err := os.Stat(top); err == nil {
		pp, err := openPlatform(top)
		if err != nil {
			return nil, err
		}
		out = append(out, *pp)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name(), "package.json")
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		pp, err := openPlatform(p)
		if err != nil {
			return nil, err
		}
		out = append(out, *pp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no package.json; build one first: ecc build NAME.bpf.c -o %s", path, path)
	}
	seen := map[string]string{}
	for _, pp := range out {
		plat := "linux/" + OCIArch(pp.Package.Meta.Arch)
		if other, dup := seen[plat]; dup {
			return nil, fmt.Errorf("%s: two packages for %s (%s and %s)", path, plat, other, pp.Name)
		}
		seen[plat] = pp.Name
	}
	return out, nil
}

func openPlatform(pkgPath string) (*PlatformPackage, error) {
	p, err := ReadFile(pkgPath)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(p.Meta.BpfSkel.ObjName, "_bpf")
	pp := &PlatformPackage{Package: p, Name: name}
	if wasm, err := os.ReadFile(filepath.Join(filepath.Dir(pkgPath), name+".wasm")); err == nil {
		pp.Wasm = wasm
	}
	return pp, nil
}

// NameOf returns NAME for NAME.bpf.c, NAME.bpf.o or NAME.wasm: the file name
// up to the first dot.
func NameOf(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return base
}

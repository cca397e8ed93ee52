package packager

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Open reads a local package: a package.json, a build folder holding one, or
// a NAME.skel.json (metadata only: Object is nil).
func Open(path string) (*Package, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("package %s: no such file or folder; pass a package.json or a build folder", path)
		}
		return nil, fmt.Errorf("package %s: %w", path, err)
	}
	if st.IsDir() {
		p := filepath.Join(path, "package.json")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s holds no package.json; build one first: ecc build %s/NAME.bpf.c", path, strings.TrimSuffix(path, "/"))
		}
		path = p
	}
	if strings.HasSuffix(path, ".skel.json") {
		data, err := readCapped(path, MaxPackageSize)
		if err != nil {
			return nil, err
		}
		m, err := UnmarshalMeta(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &Package{Meta: *m}, nil
	}
	return ReadFile(path)
}

// FlagName is the command-line flag a global becomes: @cmdarg's long and
// short names when given, else the variable's name.
func FlagName(v *Variable) (long, short string) {
	long = v.Name
	if v.Cmdarg != nil {
		if v.Cmdarg.Long != "" {
			long = v.Cmdarg.Long
		}
		short = v.Cmdarg.Short
	}
	return long, short
}

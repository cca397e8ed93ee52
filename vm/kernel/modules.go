package kernel

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ecc-bpf/ecc/internal/atomicfile"
	"github.com/ecc-bpf/ecc/internal/debpkg"
)

// ErrNoModules is wrapped when modules are asked of a kernel that did not
// come from a package.
var ErrNoModules = errors.New("kernel modules come only with a linux-image-*.deb kernel")

// Modules extracts the named kernel modules (e.g. sch_ingress) and those
// they depend on (their .modinfo "depends=") from the kernel's package
// into the cache, decompressed, and returns their paths in load order:
// dependencies first. Built-in modules (modules.builtin) are left out.
func (im *Image) Modules(names []string) ([]string, error) {
	if im.Package == "" {
		return nil, ErrNoModules
	}
	dir := filepath.Join(filepath.Dir(im.Path), "modules")
	builtin := map[string]bool{}
	// Each pass over the package extracts the modules known to be
	// missing; their dependencies may need another.
	for pass := 0; ; pass++ {
		order, missing, err := resolve(dir, names, builtin)
		if err != nil || len(missing) == 0 {
			return order, err
		}
		if pass == 3 {
			return nil, fmt.Errorf("%s: modules not found: %s", filepath.Base(im.Package), strings.Join(missing, ", "))
		}
		want := map[string]bool{}
		for _, n := range missing {
			want[n] = true
		}
		found, err := extractModules(im.Package, dir, want, builtin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(im.Package), err)
		}
		if found == 0 {
			if _, missing, _ := resolve(dir, names, builtin); len(missing) > 0 {
				return nil, fmt.Errorf("%s has no module %s", filepath.Base(im.Package), strings.Join(missing, ", "))
			}
		}
	}
}

// resolve orders the modules in dir that names need, dependencies first,
// and lists those not extracted yet (built-in ones are neither).
func resolve(dir string, names []string, builtin map[string]bool) (order, missing []string, err error) {
	var visit func(n string, stack []string) error
	visit = func(n string, stack []string) error {
		n = modName(n)
		p := filepath.Join(dir, n+".ko")
		switch {
		case builtin[n], slices.Contains(order, p), slices.Contains(missing, n):
			return nil
		case slices.Contains(stack, n):
			return fmt.Errorf("module %s depends on itself (%s)", n, strings.Join(append(stack, n), " → "))
		}
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, n)
			return nil
		}
		deps, err := moduleDeps(p)
		if err != nil {
			return fmt.Errorf("module %s: %w", n, err)
		}
		for _, d := range deps {
			if err := visit(d, append(stack, n)); err != nil {
				return err
			}
		}
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, nil, err
		}
	}
	return order, missing, nil
}

// modName is a module's name as the kernel knows it: "-" is "_".
func modName(n string) string { return strings.ReplaceAll(n, "-", "_") }

// extractModules writes the wanted modules of a package into dir
// (decompressed, as NAME.ko) and notes which are built in. It returns how
// many it wrote.
func extractModules(pkg, dir string, want, builtin map[string]bool) (int, error) {
	f, err := os.Open(pkg)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	err = debpkg.Files(f, func(name string, body io.Reader) (bool, error) {
		if !strings.HasPrefix(name, "lib/modules/") && !strings.HasPrefix(name, "usr/lib/modules/") {
			return false, nil
		}
		base := path.Base(name)
		if base == "modules.builtin" {
			b, err := io.ReadAll(body)
			for l := range strings.Lines(string(b)) {
				builtin[modName(strings.TrimSuffix(path.Base(strings.TrimSpace(l)), ".ko"))] = true
			}
			return false, err
		}
		mod, ext, ok := strings.Cut(base, ".ko")
		if !ok || !want[modName(mod)] {
			return false, nil
		}
		r := body
		if ext != "" {
			d, err := debpkg.Decompress(ext, body)
			if err != nil {
				return true, fmt.Errorf("%s: %w", name, err)
			}
			defer d.Close()
			r = d
		}
		if err := atomicfile.Copy(filepath.Join(dir, modName(mod)+".ko"), 0o644, r); err != nil {
			return true, err
		}
		n++
		return false, nil
	})
	return n, err
}

// moduleDeps reads "depends=" from a module's .modinfo section.
func moduleDeps(p string) ([]string, error) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	b, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/ecc-bpf/ecc/internal/fetch"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/source"
)

// Source is Packages for ecc test's PACKAGE argument, opened with
// source.Open: a build folder or a registry reference gives each
// architecture's own package (DIR/ARCH/ of ecc build --arch, the index's
// manifest for linux/ARCH); other inputs (a package.json, a .bpf.o, a URL,
// stdin) are read once and serve every architecture, and Test checks
// their meta.arch. o is not modified.
func Source(ref string, o *source.OpenOptions) Packages {
	var base source.OpenOptions
	if o != nil {
		base = *o
	}
	st, err := os.Stat(ref)
	perArch := (err == nil && st.IsDir()) || (errors.Is(err, os.ErrNotExist) && ref != "-" && !fetch.IsURL(ref))
	var mu sync.Mutex
	opened := map[string]*packager.Package{}
	open := func(ctx context.Context, platform string) (*packager.Package, error) {
		oo := base
		oo.Platform = platform
		s, err := source.Open(ctx, ref, &oo)
		if err != nil {
			return nil, err
		}
		if s.Package == nil || s.Wasm != nil {
			return nil, fmt.Errorf("%s is a Wasm program: ecc test runs BPF packages (package.json, build folders)", s.Name)
		}
		return s.Package, nil
	}
	return func(ctx context.Context, arch string) (*packager.Package, error) {
		mu.Lock()
		defer mu.Unlock()
		key := ""
		if perArch {
			key = arch
		}
		if p, ok := opened[key]; ok {
			return p, nil
		}
		platform := ""
		if perArch {
			platform = "linux/" + packager.OCIArch(arch)
		}
		p, err := open(ctx, platform)
		if errors.Is(err, packager.ErrNoPlatform) {
			// An index without that architecture: name the package and
			// the architecture it has from the host's (or any) manifest.
			na := &NoArchError{Package: ref, Arch: arch}
			if other, oerr := open(ctx, ""); oerr == nil {
				na.Package = strings.TrimSuffix(other.Meta.BpfSkel.ObjName, "_bpf")
				na.Has = packager.KernelArch(other.Meta.Arch)
			}
			return nil, na
		}
		if err != nil {
			return nil, err
		}
		opened[key] = p
		return p, nil
	}
}

package vmlinux

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf/btf"
)

// DefaultGuard is the include guard used when Options.Guard is empty.
const DefaultGuard = "__VMLINUX_H__"

// FormatVersion changes whenever the header written for the same BTF and
// options changes, so that caches of generated headers can key on it.
// 2: kfunc prototypes.
const FormatVersion = "2"

// Options controls header generation. The zero value is usable.
type Options struct {
	// Guard is the include-guard macro; default "__VMLINUX_H__".
	Guard string
	// NoPreserveAccessIndex omits the preserve_access_index pragma.
	NoPreserveAccessIndex bool
	// NoKfuncs omits the kfunc declarations and the __ksym, __weak and
	// __bpf_fastcall fallbacks they use: the header bpftool before 7.5
	// writes.
	NoKfuncs bool
}

// Write writes a C header declaring every type in spec.
//
// It returns an error, and may have written part of the header, if spec
// holds types that cannot be expressed in C, such as a struct that contains
// itself or a member whose type is a function.
func Write(w io.Writer, spec *btf.Spec, opts *Options) error {
	_, err := write(w, opts, func(d *dumper) error { return d.load(spec) })
	return err
}

// WriteFromReader is like Write for the BTF in rd, raw or in the .BTF
// section of an ELF file (what btf.LoadSpecFromReader accepts, split BTF
// excepted). It produces the same header as Write, but decodes the BTF
// itself instead of building a btf.Spec, which for vmlinux is several
// times faster.
func WriteFromReader(w io.Writer, rd io.ReaderAt, opts *Options) error {
	_, err := write(w, opts, func(d *dumper) error {
		data, err := readBTF(rd)
		if err != nil {
			return fmt.Errorf("read BTF: %w", err)
		}
		return d.loadRaw(data)
	})
	return err
}

// write implements Write and WriteFromReader. It returns the dumper, whose
// type table tells tests which names were written.
func write(w io.Writer, opts *Options, load func(*dumper) error) (*dumper, error) {
	if opts == nil {
		opts = &Options{}
	}
	guard := opts.Guard
	if guard == "" {
		guard = DefaultGuard
	}
	if !isIdent(guard) {
		return nil, fmt.Errorf("include guard %q is not a C identifier", guard)
	}

	d := &dumper{w: w, buf: make([]byte, 0, flushSize+4096)}
	if err := load(d); err != nil {
		return nil, err
	}

	d.str("#ifndef ")
	d.str(guard)
	d.str("\n#define ")
	d.str(guard)
	d.str("\n\n")
	if !opts.NoPreserveAccessIndex {
		d.str("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
			"#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
			"#endif\n\n")
	}
	if !opts.NoKfuncs {
		d.str(kfuncPrelude)
	}

	if err := d.dumpAll(); err != nil {
		return nil, err
	}
	if !opts.NoKfuncs {
		if err := d.dumpKfuncs(); err != nil {
			return nil, err
		}
	}

	if !opts.NoPreserveAccessIndex {
		d.str("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
			"#pragma clang attribute pop\n" +
			"#endif\n\n")
	}
	d.str("#endif /* ")
	d.str(guard)
	d.str(" */\n")
	return d, d.flush()
}

// WriteFile generates into a temp file next to path and renames it into place (no partial file on error).
func WriteFile(path string, spec *btf.Spec, opts *Options) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()

	if err := Write(f, spec, opts); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

var errTooDeep = errors.New("type chain too deep or cyclic")

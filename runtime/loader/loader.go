// Package loader creates a BPF object's maps and programs in the kernel, as
// ecli runs them: maps sized where the object leaves it to the loader, no
// pinning, CO-RE relocations from a cache per (object, kernel), and — when
// the whole collection does not load — programs loaded one by one against
// shared maps, so that those the kernel refuses are skipped and reported
// instead of failing the others (libbpf-tools' alternative pairs).
package loader

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/runtime/attach"
)

// VerifierTail is how many lines of a verifier log are shown without -v.
const VerifierTail = 12

// ErrNothingRuns is wrapped when no program of an object could be loaded
// (or, for runners, attached).
var ErrNothingRuns = errors.New("no program could run")

// ProgramError says why one program did not run.
type ProgramError struct {
	Program, Section string
	Err              error
}

func (e *ProgramError) Error() string {
	return fmt.Sprintf("program %s (%s): %v", e.Program, e.Section, e.Err)
}

func (e *ProgramError) Unwrap() error { return e.Err }

// NothingRuns is the error for an object none of whose programs runs: it
// names each program and its reason.
func NothingRuns(name string, failures []error) error {
	var b strings.Builder
	for _, f := range failures {
		fmt.Fprintf(&b, "\n  %v", f)
	}
	return fmt.Errorf("%s: %w:%s", name, ErrNothingRuns, b.String())
}

// Options tune Load.
type Options struct {
	// Object is the ELF the spec came from, the key of the CO-RE cache
	// (nil: no cache).
	Object []byte
	// KernelBTF is a BTF file for CO-RE on kernels without
	// /sys/kernel/btf/vmlinux.
	KernelBTF string
	// Verbose keeps whole verifier logs.
	Verbose bool
}

// Collection is a loaded object.
type Collection struct {
	Programs map[string]*ebpf.Program
	Maps     map[string]*ebpf.Map
	// Failed are the programs that did not load (when others did).
	Failed []*ProgramError
	close  []func()
}

// Close frees the programs and maps.
func (c *Collection) Close() {
	for i := len(c.close) - 1; i >= 0; i-- {
		c.close[i]()
	}
	c.close = nil
}

// PrepareMaps gives sizes to maps that leave them to the loader (stack
// traces, ring buffers), and keeps the run from pinning anything.
func PrepareMaps(spec *ebpf.CollectionSpec) {
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinNone
		switch m.Type {
		case ebpf.StackTrace:
			if m.MaxEntries == 0 {
				m.MaxEntries = 16384
			}
			if m.ValueSize == 0 {
				m.ValueSize = 127 * 8 // PERF_MAX_STACK_DEPTH frames
			}
			if m.KeySize == 0 {
				m.KeySize = 4
			}
		case ebpf.RingBuf:
			if m.MaxEntries == 0 {
				m.MaxEntries = 256 << 10
			}
		}
	}
}

// Load creates spec's maps and programs (after PrepareMaps). It fails when
// the maps cannot be created or no program loads; programs that fail while
// others load are listed in Failed.
func Load(spec *ebpf.CollectionSpec, o *Options) (*Collection, error) {
	if o == nil {
		o = &Options{}
	}
	PrepareMaps(spec)
	attach.PrepareUSDT(spec)
	cookie, err := resolveCookieExtern(spec)
	if err != nil {
		return nil, err
	}
	if cookie != nil {
		defer cookie.Close() // the programs hold it
	}
	cache := btf.NewCache()
	opts := ebpf.CollectionOptions{Cache: cache}
	if o.KernelBTF != "" {
		kt, err := btf.LoadSpec(o.KernelBTF)
		if err != nil {
			return nil, fmt.Errorf("--btf %s: %w; pass the running kernel's BTF (raw or an ELF with .BTF)", o.KernelBTF, err)
		}
		opts.Programs.KernelTypes = kt
	} else if o.Object != nil && os.Getenv("ECLI_NO_CORE_CACHE") != "1" {
		Prerelocate(o.Object, spec, cache)
	}
	if o.Verbose {
		opts.Programs.LogLevel = ebpf.LogLevelInstruction
	}
	c := &Collection{}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err == nil {
		c.Programs, c.Maps = coll.Programs, coll.Maps
		c.close = append(c.close, coll.Close)
		return c, nil
	}
	if len(spec.Programs) == 0 {
		return nil, fmt.Errorf("load maps: %w", err)
	}
	mapsOnly := spec.Copy()
	mapsOnly.Programs = map[string]*ebpf.ProgramSpec{}
	mapColl, err := ebpf.NewCollectionWithOptions(mapsOnly, opts)
	if err != nil {
		return nil, fmt.Errorf("create maps: %w", err)
	}
	c.Maps = mapColl.Maps
	c.close = append(c.close, mapColl.Close)
	c.Programs = map[string]*ebpf.Program{}
	var failures []error
	for _, name := range SortedPrograms(spec) {
		one := spec.Copy()
		one.Programs = map[string]*ebpf.ProgramSpec{name: spec.Programs[name]}
		oo := opts
		oo.MapReplacements = mapColl.Maps
		pc, err := ebpf.NewCollectionWithOptions(one, oo)
		if err != nil {
			pe := &ProgramError{Program: name, Section: spec.Programs[name].SectionName, Err: Explain(err, o.Verbose)}
			c.Failed = append(c.Failed, pe)
			failures = append(failures, pe)
			continue
		}
		prog := pc.DetachProgram(name)
		pc.Close()
		c.Programs[name] = prog
		c.close = append(c.close, func() { prog.Close() })
	}
	if len(c.Programs) == 0 {
		c.Close()
		return nil, NothingRuns("load", failures)
	}
	return c, nil
}

// Explain turns load errors into what the user needs: "not supported by
// this kernel" for refusals, the verifier log's tail for rejections.
func Explain(err error, verbose bool) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		lines := ve.Log
		more := ""
		if !verbose && len(lines) > VerifierTail {
			lines = lines[len(lines)-VerifierTail:]
			more = fmt.Sprintf(" (last %d lines; -v shows all %d)", VerifierTail, len(ve.Log))
		}
		return fmt.Errorf("rejected by the verifier%s:\n    %s", more, strings.Join(lines, "\n    "))
	}
	if attach.IsNotSupported(err) {
		return fmt.Errorf("%w: %v", attach.ErrNotSupported, CleanErr(err))
	}
	return err
}

// CleanErr drops cilium/ebpf's MEMLOCK hint, which is misleading on kernels
// that account BPF memory to cgroups.
func CleanErr(err error) string {
	return strings.Replace(err.Error(), " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "", 1)
}

// SortedPrograms lists the spec's program names in order.
func SortedPrograms(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

package loader

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/packager"
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

// NothingRunsError is an object none of whose programs runs. It matches
// ErrNothingRuns and each failure (errors.Is, errors.As: a verifier's
// *ebpf.VerifierError is found through it).
type NothingRunsError struct {
	// Name is what failed (the package, or "load").
	Name string
	// Failures say why each program did not run, usually *ProgramError.
	Failures []error
}

func (e *NothingRunsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v:", e.Name, ErrNothingRuns)
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %v", f)
	}
	return b.String()
}

func (e *NothingRunsError) Unwrap() []error {
	return append([]error{ErrNothingRuns}, e.Failures...)
}

// NothingRuns is the error for an object none of whose programs runs: it
// names each program and its reason.
func NothingRuns(name string, failures []error) error {
	return &NothingRunsError{Name: name, Failures: failures}
}

// VerifierError is a program the verifier rejected. Its text is the end
// of the verifier's log (VerifierTail lines), or all of it when Verbose;
// cilium/ebpf's *ebpf.VerifierError is in its chain.
type VerifierError struct {
	// Err is the load error, which holds an *ebpf.VerifierError.
	Err     error
	Verbose bool
}

func (e *VerifierError) log() []string {
	var ve *ebpf.VerifierError
	if errors.As(e.Err, &ve) {
		return ve.Log
	}
	return nil
}

func (e *VerifierError) Error() string {
	log := e.log()
	lines, more := log, ""
	if !e.Verbose && len(lines) > VerifierTail {
		lines = lines[len(lines)-VerifierTail:]
		more = fmt.Sprintf(" (last %d lines; -v shows all %d)", VerifierTail, len(log))
	}
	return fmt.Sprintf("rejected by the verifier%s:\n    %s", more, strings.Join(lines, "\n    "))
}

func (e *VerifierError) Unwrap() error { return e.Err }

// Reason is the verifier's reason: the last line of its log that is not
// a statistic ("processed N insns", "verification time", "stack depth").
func (e *VerifierError) Reason() string {
	log := e.log()
	for i := len(log) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(log[i]); l != "" && !strings.HasPrefix(l, "processed ") && !strings.HasPrefix(l, "verification time") && !strings.HasPrefix(l, "stack depth") {
			return l
		}
	}
	return ""
}

// Options tune Load.
type Options struct {
	// Object is the ELF the spec came from, the key of the CO-RE cache
	// (nil: no cache).
	Object []byte
	// KernelBTF is a BTF file for CO-RE on kernels without
	// /sys/kernel/btf/vmlinux; it wins over PackageBTF.
	KernelBTF string
	// PackageBTF is the package's kernel BTF (ecc build --btfgen): on a
	// kernel without BTF of its own, the entry whose release is the
	// kernel's serves CO-RE; with none, Load fails with a
	// *NoKernelBTFError naming the releases there are.
	PackageBTF []packager.KernelBTF
	// NoKernelBTF treats the kernel as one without BTF of its own, even
	// when it has /sys/kernel/btf/vmlinux (to test PackageBTF).
	NoKernelBTF bool
	// Verbose keeps whole verifier logs.
	Verbose bool
	// Defer names programs Load leaves out; Collection.LoadProgram loads
	// them later, against the same maps (the twins kept in reserve in case
	// the preferred one fails, programs a runner skips).
	Defer []string
}

// Collection is a loaded object.
type Collection struct {
	Programs map[string]*ebpf.Program
	Maps     map[string]*ebpf.Map
	// Failed are the programs that did not load (when others did).
	Failed []*ProgramError
	// CORE says what CO-RE relocated against: COREKernel, COREFile, or
	// COREPackage followed by a space and the release.
	CORE  string
	close []func()

	// What LoadProgram needs: the whole spec, the options, the maps.
	spec    *ebpf.CollectionSpec
	opts    ebpf.CollectionOptions
	verbose bool
	// noKernelBTF: the kernel has no BTF of its own (or acts so).
	noKernelBTF bool
}

// refusesAny reports whether LoadProgram refuses one of spec's programs
// without asking the kernel: one that needs the kernel's BTF, on a kernel
// without it.
func (c *Collection) refusesAny(spec *ebpf.CollectionSpec) bool {
	if !c.noKernelBTF {
		return false
	}
	for _, ps := range spec.Programs {
		if needsKernelBTF(ps) {
			return true
		}
	}
	return false
}

// Close frees the programs and maps.
func (c *Collection) Close() {
	for i := len(c.close) - 1; i >= 0; i-- {
		c.close[i]()
	}
	c.close = nil
}

// PrepareMaps gives sizes to maps that leave them to the loader (hash and
// array maps: DefaultMaxEntries; stack traces: 16384; ring buffers: 256
// KiB), and keeps the run from pinning anything. SizeMaps, run first,
// applies the user's --max-entries.
func PrepareMaps(spec *ebpf.CollectionSpec) {
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinNone
		if m.MaxEntries == 0 && unsizedTypes[m.Type] && m.Type != ebpf.StackTrace {
			m.MaxEntries = DefaultMaxEntries
		}
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
	if err := ResolveKconfig(spec, o.Object); err != nil {
		return nil, err
	}
	cache := btf.NewCache()
	opts := ebpf.CollectionOptions{Cache: cache}
	kt, core, err := kernelTypes(spec, o)
	if err != nil {
		return nil, err
	}
	if kt != nil {
		opts.Programs.KernelTypes = kt
	} else if o.Object != nil && !o.NoKernelBTF && os.Getenv("ECLI_NO_CORE_CACHE") != "1" {
		Prerelocate(o.Object, spec, cache)
	}
	if o.Verbose {
		opts.Programs.LogLevel = ebpf.LogLevelInstruction
	}
	c := &Collection{spec: spec, opts: opts, verbose: o.Verbose, CORE: core, noKernelBTF: !hasKernelBTF(o)}
	first := spec
	if len(o.Defer) > 0 {
		first = spec.Copy()
		for _, name := range o.Defer {
			delete(first.Programs, name)
		}
	}
	// Without the kernel's BTF, programs that attach through it are
	// refused one by one (LoadProgram), before the kernel is asked.
	if !c.refusesAny(first) {
		coll, err := ebpf.NewCollectionWithOptions(first, opts)
		if err == nil {
			c.Programs, c.Maps = coll.Programs, coll.Maps
			c.close = append(c.close, coll.Close)
			return c, nil
		}
		if len(first.Programs) == 0 {
			return nil, fmt.Errorf("load maps: %w", err)
		}
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
	for _, name := range SortedPrograms(first) {
		if _, err := c.LoadProgram(name); err != nil {
			pe := err.(*ProgramError)
			c.Failed = append(c.Failed, pe)
			failures = append(failures, pe)
		}
	}
	if len(c.Programs) == 0 && len(first.Programs) == len(spec.Programs) {
		c.Close()
		return nil, NothingRuns("load", failures)
	}
	return c, nil
}

// LoadProgram loads one program of the spec against the collection's
// maps: one Load deferred, or any not loaded yet. It returns the loaded
// program if there is one already. Errors are *ProgramError, explained.
func (c *Collection) LoadProgram(name string) (*ebpf.Program, error) {
	if prog := c.Programs[name]; prog != nil {
		return prog, nil
	}
	ps := c.spec.Programs[name]
	if ps == nil {
		return nil, &ProgramError{Program: name, Err: errors.New("no such program in the object")}
	}
	if c.noKernelBTF && needsKernelBTF(ps) {
		return nil, &ProgramError{Program: name, Section: ps.SectionName, Err: kernelBTFError(ps)}
	}
	one := c.spec.Copy()
	one.Programs = map[string]*ebpf.ProgramSpec{name: ps}
	oo := c.opts
	oo.MapReplacements = c.Maps
	pc, err := ebpf.NewCollectionWithOptions(one, oo)
	if err != nil {
		return nil, &ProgramError{Program: name, Section: ps.SectionName, Err: Explain(withoutProgramName(err, name), c.verbose)}
	}
	prog := pc.DetachProgram(name)
	pc.Close()
	if c.Programs == nil {
		c.Programs = map[string]*ebpf.Program{}
	}
	c.Programs[name] = prog
	c.close = append(c.close, func() { prog.Close() })
	return prog, nil
}

// Explain turns load and attach errors into what the user needs: a
// *attach.NotSupportedError for refusals (its Reason leaves the program to
// the caller to name), a *VerifierError (the log's tail) for rejections.
// The error explained stays in the chain of what it returns.
func Explain(err error, verbose bool) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		if helper := refusedHelper(ve.Log); helper != "" {
			// Not the program's fault: the kernel does not let this type
			// of program call the helper (bpf_probe_write_user under
			// lockdown, say).
			return &attach.NotSupportedError{
				Reason: fmt.Sprintf("the kernel refuses helper %s in programs of this type%s", helper, lockdownNote(helper)),
				Err:    err,
			}
		}
		return &VerifierError{Err: err, Verbose: verbose}
	}
	if attach.IsNotSupported(err) {
		// The caller names the program: the reason is the attach
		// failure's own, or the load error's.
		var ae *attach.Error
		var ns *attach.NotSupportedError
		reason := ""
		switch {
		case errors.As(err, &ns):
			reason = ns.Reason
		case errors.As(err, &ae):
			reason = ae.Err.Error()
		default:
			reason = err.Error()
		}
		return &attach.NotSupportedError{Reason: withoutMemlockHint(reason), Err: err}
	}
	return err
}

// withoutProgramName unwraps cilium/ebpf's "program NAME: " around the
// error of loading program name: ProgramError names it. That wrapper has
// no type of its own, so it is recognised by its exact text.
func withoutProgramName(err error, name string) error {
	inner := errors.Unwrap(err)
	if inner == nil || err.Error() != "program "+name+": "+inner.Error() {
		return err
	}
	return inner
}

// refusedHelper finds the verifier's "program of this type cannot use
// helper NAME#ID" at the end of a log.
func refusedHelper(log []string) string {
	for i := len(log) - 1; i >= 0 && i >= len(log)-3; i-- {
		if _, after, ok := strings.Cut(log[i], "cannot use helper "); ok {
			name, _, _ := strings.Cut(after, "#")
			return strings.TrimSpace(name)
		}
	}
	return ""
}

// lockdownNote explains helpers that kernel lockdown takes away.
func lockdownNote(helper string) string {
	switch helper {
	case "bpf_probe_write_user", "bpf_probe_read", "bpf_probe_read_str", "bpf_override_return":
		mode := "lockdown"
		if b, err := os.ReadFile("/sys/kernel/security/lockdown"); err == nil {
			if i, j := strings.IndexByte(string(b), '['), strings.IndexByte(string(b), ']'); i >= 0 && j > i {
				mode = "lockdown=" + string(b[i+1:j])
			}
		}
		return " (kernel " + mode + " or a kernel built without it)"
	}
	return ""
}

// withoutMemlockHint drops cilium/ebpf's MEMLOCK hint, which is
// misleading on kernels that account BPF memory to cgroups (as this one
// does). The hint is text cilium/ebpf appends to EPERM errors; nothing
// else marks it.
func withoutMemlockHint(msg string) string {
	return strings.Replace(msg, " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "", 1)
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

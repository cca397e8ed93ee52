package loader

import (
	"errors"
	"fmt"
	"os"
	"regexp"
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
	close  []func()

	// What LoadProgram needs: the whole spec, the options, the maps.
	spec    *ebpf.CollectionSpec
	opts    ebpf.CollectionOptions
	verbose bool
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
	c := &Collection{spec: spec, opts: opts, verbose: o.Verbose}
	first := spec
	if len(o.Defer) > 0 {
		first = spec.Copy()
		for _, name := range o.Defer {
			delete(first.Programs, name)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(first, opts)
	if err == nil {
		c.Programs, c.Maps = coll.Programs, coll.Maps
		c.close = append(c.close, coll.Close)
		return c, nil
	}
	if len(first.Programs) == 0 {
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
	one := c.spec.Copy()
	one.Programs = map[string]*ebpf.ProgramSpec{name: ps}
	oo := c.opts
	oo.MapReplacements = c.Maps
	pc, err := ebpf.NewCollectionWithOptions(one, oo)
	if err != nil {
		return nil, &ProgramError{Program: name, Section: ps.SectionName, Err: Explain(err, c.verbose)}
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

// Explain turns load errors into what the user needs: "not supported by
// this kernel" for refusals, the verifier log's tail for rejections.
func Explain(err error, verbose bool) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		if helper := refusedHelper(ve.Log); helper != "" {
			// Not the program's fault: the kernel does not let this type
			// of program call the helper (bpf_probe_write_user under
			// lockdown, say).
			return fmt.Errorf("%w: the kernel refuses helper %s in programs of this type%s", attach.ErrNotSupported, helper, lockdownNote(helper))
		}
		lines := ve.Log
		more := ""
		if !verbose && len(lines) > VerifierTail {
			lines = lines[len(lines)-VerifierTail:]
			more = fmt.Sprintf(" (last %d lines; -v shows all %d)", VerifierTail, len(ve.Log))
		}
		return fmt.Errorf("rejected by the verifier%s:\n    %s", more, strings.Join(lines, "\n    "))
	}
	if attach.IsNotSupported(err) {
		// The runner names the program: drop the names the layers below
		// put in front, and the repeated reason.
		msg := CleanErr(err)
		for {
			trimmed := strings.TrimPrefix(programPrefix.ReplaceAllString(msg, ""), attach.ErrNotSupported.Error()+": ")
			if trimmed == msg {
				break
			}
			msg = trimmed
		}
		return fmt.Errorf("%w: %s", attach.ErrNotSupported, msg)
	}
	return err
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

// programPrefix is what cilium/ebpf ("program NAME: ") and attach.Attach
// ("attach program NAME (TARGET): ") put before their errors.
var programPrefix = regexp.MustCompile(`^(attach )?program [A-Za-z0-9_.]+( \([^)]*\))?: `)

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

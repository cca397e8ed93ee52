package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/progflags"
)

// Options are ecli run's runtime flags.
type Options struct {
	// JSON prints events and maps as JSON lines instead of text.
	JSON bool
	// Duration stops the run after this long (0: until ctx is done).
	Duration time.Duration
	// Attach holds --ifname, --cgroup, --uprobe, --pid, --freq.
	Attach attach.Options
	// Verbose prints whole verifier logs and what is attached.
	Verbose bool
	// KernelBTF is a BTF file for CO-RE relocations, for kernels that do
	// not expose /sys/kernel/btf/vmlinux.
	KernelBTF string
	// Stdout receives events and maps; Stderr status and warnings.
	Stdout, Stderr io.Writer
	// Ready, when set, is called once everything is attached and being read.
	Ready func()
}

// ErrNothingRuns is returned when no program of a package could be loaded
// and attached.
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

// verifierTail is how many lines of a verifier log are shown without -v.
const verifierTail = 12

// Run loads the package into the kernel, attaches its programs, prints their
// output until ctx is done or the duration passes, then detaches everything.
// progArgs are the program's own flags, generated from its globals.
func Run(ctx context.Context, src *Source, progArgs []string, o *Options) error {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	pkg := src.Package
	tr := newTracer(o)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(pkg.Object))
	if err != nil {
		return fmt.Errorf("%s: read BPF object: %w", src.Name, err)
	}
	flags, err := progflags.New(&pkg.Meta, spec)
	if err != nil {
		return fmt.Errorf("%s: %w", src.Name, err)
	}
	flags.Command = "ecli run " + src.Name
	if err := flags.Parse(progArgs); err != nil {
		if errors.Is(err, progflags.ErrHelp) {
			flags.WriteHelp(o.Stdout, "")
			return nil
		}
		return err
	}
	if err := flags.Apply(spec); err != nil {
		return err
	}
	prepareMaps(spec)
	tr.mark("spec and flags")

	// Plan every attachment before touching the kernel: a missing --ifname
	// is the user's to fix, whatever else loads.
	plans := map[string]*attach.Plan{}
	for _, name := range sortedPrograms(spec) {
		plan, err := attach.PlanFor(spec.Programs[name], &o.Attach)
		if err != nil {
			return err
		}
		plans[name] = plan
	}

	if err := attach.EnsureFS(); err != nil && o.Verbose {
		fmt.Fprintf(o.Stderr, "ecli: %v\n", err)
	}
	// Needs CAP_SYS_RESOURCE; kernels ≥ 5.11 account BPF memory to the
	// cgroup instead, so failing here is harmless.
	rlimit.RemoveMemlock()

	tr.mark("plans")
	r := &runner{o: o, src: src, spec: spec, tr: tr}
	defer r.close()
	if err := r.load(); err != nil {
		return err
	}
	tr.mark("load")
	if err := r.attach(plans); err != nil {
		return err
	}
	tr.mark("attach")
	if err := r.startOutputs(); err != nil {
		return err
	}
	tr.mark("outputs")
	if o.Ready != nil {
		o.Ready()
	}
	var timeout <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case err := <-r.failed:
		return err
	}
	tr.mark("run")
	err = r.finish()
	tr.mark("drain and free")
	return err
}

type runner struct {
	o     *Options
	src   *Source
	spec  *ebpf.CollectionSpec
	progs map[string]*ebpf.Program
	maps  map[string]*ebpf.Map
	links []attach.Link
	iters []iterLink
	// closers release the maps and programs at the very end, in reverse order.
	closers []func()
	failed  chan error
	out     *output

	readers   []*bufReader
	readersWG sync.WaitGroup
	samplers  []*sampler
	// stop ends the samplers' and the flusher's tickers.
	stop     chan struct{}
	tickerWG sync.WaitGroup
	// after runs once output is drained: summaries, symbol tables.
	after []func()
	tr    *tracer
}

type iterLink struct {
	name string
	link attach.Link
}

// close tears the run down in the order that loses nothing: detach the
// programs, drain the buffers, print the maps one last time, flush the
// output, then free the maps and programs.
func (r *runner) close() {
	if len(r.links) > 0 {
		for _, l := range r.links {
			l.Close()
		}
		r.links = nil
		r.tr.mark("detach")
	}
	for _, rd := range r.readers {
		rd.flush()
	}
	drained := make(chan struct{})
	go func() { r.readersWG.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	for _, rd := range r.readers {
		rd.close()
	}
	r.readersWG.Wait()
	r.readers = nil
	if r.stop != nil {
		close(r.stop)
		r.tickerWG.Wait()
		r.stop = nil
		for _, s := range r.samplers {
			s.printFinal()
		}
	}
	if r.out != nil {
		r.out.flush()
	}
	for _, f := range r.after {
		f()
	}
	r.after = nil
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

func sortedPrograms(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// prepareMaps gives sizes to maps that leave them to the loader, and keeps
// the run from pinning anything.
func prepareMaps(spec *ebpf.CollectionSpec) {
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

// load creates the maps and programs. When the whole collection does not
// load, programs are loaded one by one against shared maps, so that those
// the kernel refuses (e.g. fentry where only kprobe works) can be skipped.
func (r *runner) load() error {
	cache := btf.NewCache()
	opts := ebpf.CollectionOptions{Cache: cache}
	if r.o.KernelBTF == "" && os.Getenv("ECLI_NO_CORE_CACHE") != "1" {
		prerelocate(r.src.Package.Object, r.spec, cache)
		r.tr.mark("co-re")
	}
	if r.o.KernelBTF != "" {
		kt, err := btf.LoadSpec(r.o.KernelBTF)
		if err != nil {
			return fmt.Errorf("--btf %s: %w; pass the running kernel's BTF (raw or an ELF with .BTF)", r.o.KernelBTF, err)
		}
		opts.Programs.KernelTypes = kt
	}
	if r.o.Verbose {
		opts.Programs.LogLevel = ebpf.LogLevelInstruction
	}
	coll, err := ebpf.NewCollectionWithOptions(r.spec, opts)
	if err == nil {
		r.progs, r.maps = coll.Programs, coll.Maps
		r.closers = append(r.closers, coll.Close)
		return nil
	}
	if len(r.spec.Programs) == 0 {
		return fmt.Errorf("%s: load maps: %w", r.src.Name, err)
	}
	// One by one: maps first.
	mapsOnly := r.spec.Copy()
	mapsOnly.Programs = map[string]*ebpf.ProgramSpec{}
	mapColl, err := ebpf.NewCollectionWithOptions(mapsOnly, opts)
	if err != nil {
		return fmt.Errorf("%s: create maps: %w", r.src.Name, err)
	}
	r.maps = mapColl.Maps
	r.closers = append(r.closers, mapColl.Close)
	r.progs = map[string]*ebpf.Program{}
	var failures []error
	for _, name := range sortedPrograms(r.spec) {
		one := r.spec.Copy()
		one.Programs = map[string]*ebpf.ProgramSpec{name: r.spec.Programs[name]}
		o := opts
		o.MapReplacements = mapColl.Maps
		c, err := ebpf.NewCollectionWithOptions(one, o)
		if err != nil {
			failures = append(failures, &ProgramError{Program: name, Section: r.spec.Programs[name].SectionName, Err: r.explain(err)})
			continue
		}
		prog := c.DetachProgram(name)
		c.Close()
		r.progs[name] = prog
		r.closers = append(r.closers, func() { prog.Close() })
	}
	if len(r.progs) == 0 {
		return nothingRuns(r.src.Name, failures)
	}
	for _, f := range failures {
		fmt.Fprintf(r.o.Stderr, "ecli: warning: skipping %v\n", f)
	}
	return nil
}

// explain turns load errors into what the user needs: "not supported by
// this kernel" for refusals, the verifier log's tail for rejections.
func (r *runner) explain(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		lines := ve.Log
		more := ""
		if !r.o.Verbose && len(lines) > verifierTail {
			lines = lines[len(lines)-verifierTail:]
			more = fmt.Sprintf(" (last %d lines; -v shows all %d)", verifierTail, len(ve.Log))
		}
		return fmt.Errorf("rejected by the verifier%s:\n    %s", more, strings.Join(lines, "\n    "))
	}
	if attach.IsNotSupported(err) {
		return fmt.Errorf("%w: %v", attach.ErrNotSupported, cleanErr(err))
	}
	return err
}

// cleanErr drops cilium/ebpf's MEMLOCK hint, which is misleading on kernels
// that account BPF memory to cgroups.
func cleanErr(err error) string {
	return strings.Replace(err.Error(), " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "", 1)
}

func nothingRuns(name string, failures []error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v:", name, ErrNothingRuns)
	for _, f := range failures {
		fmt.Fprintf(&b, "\n  %v", f)
	}
	return errors.New(b.String())
}

func (r *runner) attach(plans map[string]*attach.Plan) error {
	var failures []error
	attached := 0
	for _, name := range sortedPrograms(r.spec) {
		prog := r.progs[name]
		if prog == nil {
			continue
		}
		plan := plans[name]
		if plan.Kind == attach.Manual {
			fmt.Fprintf(r.o.Stderr, "ecli: note: program %s (%s) is loaded but not attached automatically\n", name, plan.Section)
			continue
		}
		l, err := attach.Attach(prog, plan)
		if err != nil {
			failures = append(failures, &ProgramError{Program: name, Section: plan.Section, Err: r.explain(err)})
			continue
		}
		attached++
		r.links = append(r.links, l)
		if plan.Kind == attach.Iter {
			r.iters = append(r.iters, iterLink{name, l})
		}
		if r.o.Verbose {
			fmt.Fprintf(r.o.Stderr, "ecli: attached %s (%s)\n", name, plan.Section)
		}
	}
	if attached == 0 && len(failures) > 0 {
		return nothingRuns(r.src.Name, failures)
	}
	for _, f := range failures {
		fmt.Fprintf(r.o.Stderr, "ecli: warning: skipping %v\n", f)
	}
	return nil
}

// tracer prints how long each step of a run took when ECLI_TRACE=1 (see
// docs/troubleshooting.md: start-up and exit costs).
type tracer struct {
	w    io.Writer
	last time.Time
}

func newTracer(o *Options) *tracer {
	if os.Getenv("ECLI_TRACE") != "1" {
		return &tracer{}
	}
	return &tracer{w: o.Stderr, last: time.Now()}
}

func (t *tracer) mark(step string) {
	if t.w == nil {
		return
	}
	now := time.Now()
	fmt.Fprintf(t.w, "ecli: trace: %-16s %6.2f ms\n", step, float64(now.Sub(t.last).Microseconds())/1000)
	t.last = now
}

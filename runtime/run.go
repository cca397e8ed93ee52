package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
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

// ErrNothingRuns is wrapped when no program of a package could be loaded
// and attached.
var ErrNothingRuns = loader.ErrNothingRuns

// ProgramError says why one program did not run.
type ProgramError = loader.ProgramError

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
	spec, err := bpfobj.LoadSpec(pkg.Object)
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
	loader.PrepareMaps(spec)
	tr.mark("spec and flags")

	// Plan every attachment before touching the kernel: a missing --ifname
	// is the user's to fix, whatever else loads.
	if err := attach.CheckOptions(spec, &o.Attach); err != nil {
		return fmt.Errorf("%s: %w", src.Name, err)
	}
	plans := map[string]*attach.Plan{}
	for _, name := range loader.SortedPrograms(spec) {
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

// load creates the maps and programs; programs the kernel refuses are
// skipped with a warning when others load.
func (r *runner) load() error {
	c, err := loader.Load(r.spec, &loader.Options{Object: r.src.Package.Object, KernelBTF: r.o.KernelBTF, Verbose: r.o.Verbose})
	if err != nil {
		return fmt.Errorf("%s: %w", r.src.Name, err)
	}
	r.progs, r.maps = c.Programs, c.Maps
	r.closers = append(r.closers, c.Close)
	for _, f := range c.Failed {
		fmt.Fprintf(r.o.Stderr, "ecli: warning: skipping %v\n", f)
	}
	return nil
}

func (r *runner) attach(plans map[string]*attach.Plan) error {
	var failures []error
	attached := 0
	for _, name := range loader.SortedPrograms(r.spec) {
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
			failures = append(failures, &ProgramError{Program: name, Section: plan.Section, Err: loader.Explain(err, r.o.Verbose)})
			continue
		}
		attached++
		r.links = append(r.links, l)
		if plan.Kind == attach.Iter {
			r.iters = append(r.iters, iterLink{name, l})
		}
		if r.o.Verbose {
			fmt.Fprintf(r.o.Stderr, "ecli: attached %s (%s): %s\n", name, plan.Section, l)
		}
	}
	if attached == 0 && len(failures) > 0 {
		return loader.NothingRuns(r.src.Name, failures)
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

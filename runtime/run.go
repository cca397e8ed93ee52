package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/progscan"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
	"github.com/ecc-bpf/ecc/runtime/metrics"
	"github.com/ecc-bpf/ecc/runtime/progflags"
)

// Options are ecli run's runtime flags.
type Options struct {
	// JSON prints events and maps as JSON lines instead of text.
	JSON bool
	// Duration stops the run after this long (0: until ctx is done).
	Duration time.Duration
	// Interval prints maps and result globals every interval (0: @sample
	// maps on their own intervals, other results once at exit); results
	// found without @sample are then cleared after each print, so each
	// shows one interval, as BCC's and libbpf-tools' interval mode does.
	Interval time.Duration
	// Count stops the run after this many intervals (0: no limit).
	Count int
	// Attach holds --ifname, --cgroup, --uprobe, --pid, --freq.
	Attach attach.Options
	// Verbose prints whole verifier logs and what is attached.
	Verbose bool
	// DryRun checks the package, parses and applies the program flags,
	// plans every attachment and prints the plan on Stdout (as JSON with
	// JSON), then returns without loading anything into the kernel.
	DryRun bool
	// KernelBTF is a BTF file for CO-RE relocations, for kernels that do
	// not expose /sys/kernel/btf/vmlinux; without it, such kernels use
	// the package's BTF for their release (loader.Options.PackageBTF).
	KernelBTF string
	// NoKernelBTF treats the kernel as one without BTF of its own
	// (loader.Options.NoKernelBTF).
	NoKernelBTF bool
	// MaxEntries are the --max-entries values: N sizes every map that
	// declares max_entries 0 (default loader.DefaultMaxEntries), MAP=N one
	// map (loader.ParseMaxEntries).
	MaxEntries []string
	// Fields chooses and orders the members events print (--fields), in
	// text and JSON: member names (each value may hold several, comma
	// separated), "timestamp" for ecli's time stamp; or +NAME and -NAME,
	// which add to and take from the default. See eventViews.
	Fields []string
	// Filters are --filter expressions (decode.ParseFilter): an event
	// prints when all of them match its decoded members.
	Filters []string
	// OutputFile, when set, is created (or truncated), mode 0644, and
	// receives what Stdout would.
	OutputFile string
	// Quiet prints neither events nor maps on Stdout (with OutputFile,
	// the file is written all the same): for agents that serve --metrics.
	Quiet bool
	// Metrics, when set, serves the run's histograms, maps, result
	// globals and event counts as Prometheus metrics while it runs
	// (docs/metrics.md); the run sets it ready once attached. The caller
	// listens and closes it.
	Metrics *metrics.Server
	// MetricsMaxSeries caps the label sets of each metric (0:
	// metrics.DefaultMaxSeries).
	MetricsMaxSeries int
	// Stdout receives events and maps; Stderr status and warnings.
	Stdout, Stderr io.Writer
	// Ready, when set, is called once everything is attached and being read.
	Ready func()
	// Programs, when set, is called once the programs are attached (or
	// none could be) with what became of each, in name order: ecc test's
	// report.
	Programs func([]ProgramState)
}

// ErrNothingRuns is wrapped when no program of a package could be loaded
// and attached.
var ErrNothingRuns = loader.ErrNothingRuns

// ProgramError says why one program did not run.
type ProgramError = loader.ProgramError

// Run loads the package into the kernel, attaches its programs, prints their
// output until ctx is done or the duration passes, then detaches everything.
// name is how the user named the package (a path, URL, "-" or reference,
// as package source resolved it), for messages; progArgs are the program's
// own flags, generated from its globals. The caller's Options are not
// modified (nil means the zero Options).
func Run(ctx context.Context, name string, pkg *packager.Package, progArgs []string, opts *Options) (err error) {
	var o0 Options
	if opts != nil {
		o0 = *opts
	}
	o := &o0
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	tr := newTracer(o)
	// Before anything else: an object built for another architecture
	// reads kernel structures with the wrong layout.
	if err := packager.CheckArch(&pkg.Meta); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	spec, err := bpfobj.LoadSpec(pkg.Object)
	if err != nil {
		return fmt.Errorf("%s: read BPF object: %w", name, err)
	}
	// What runs is the object: metadata that describes other programs,
	// sections or maps would make --help, inspect and the user believe
	// something else runs.
	if err := packager.CheckSpec(&pkg.Meta, spec); err != nil {
		return fmt.Errorf("%s: %w; ecli runs no package whose metadata disagrees with its object", name, err)
	}
	flags, err := progflags.New(&pkg.Meta, spec)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	flags.Command = "ecli run " + name
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
	views, err := newEventViews(o, &pkg.Meta, spec)
	if err != nil {
		return err
	}
	if o.OutputFile != "" {
		f, err := os.OpenFile(o.OutputFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return &OutputFlagError{Flag: "--output", Value: o.OutputFile, Err: err}
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("--output %s: %w", o.OutputFile, cerr)
			}
		}()
		o.Stdout = f
	}
	sizes, err := loader.ParseMaxEntries(o.MaxEntries)
	if err != nil {
		return err
	}
	if err := loader.SizeMaps(spec, sizes); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	loader.PrepareMaps(spec)
	tr.mark("spec and flags")

	// Plan every attachment before touching the kernel: a missing --ifname
	// is the user's to fix, whatever else loads; a program that cannot run
	// here (a bare uprobe without --uprobe) is skipped with a warning.
	if err := attach.CheckOptions(spec, &o.Attach); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	set, err := attach.PlanAll(spec, &o.Attach)
	if err != nil {
		return err
	}
	if o.DryRun {
		// The plan says it all, skipped programs and warnings included;
		// the exit status is the run's.
		if err := writeDryRun(o, name, spec, set); err != nil {
			return err
		}
		if len(set.Plans) == 0 && len(set.Skipped) > 0 {
			return loader.NothingRuns(name, set.Skipped)
		}
		return nil
	}
	if o.Quiet && o.OutputFile == "" {
		o.Stdout = io.Discard
	}
	var st states
	if o.Programs != nil {
		st = states{}
		for _, e := range set.Skipped {
			st.failed(e)
		}
	}
	if len(set.Plans) == 0 && len(set.Skipped) > 0 {
		st.report(o, spec)
		return loader.NothingRuns(name, set.Skipped)
	}
	if o.Verbose {
		for _, n := range set.Retyped {
			ps := spec.Programs[n]
			fmt.Fprintf(o.Stderr, "ecli: %s: SEC(%q) is read as %s (not a libbpf section name)\n", termsafe.Line(n), ps.SectionName, termsafe.Line(strings.TrimLeft(strings.TrimPrefix(ps.SectionName, "?"), ".")))
		}
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(o.Stderr, "ecli: warning: %s\n", termsafe.Line(w))
	}
	for _, e := range set.Skipped {
		fmt.Fprintf(o.Stderr, "ecli: warning: skipping %s\n", termsafe.Line(e.Error()))
	}
	plans := set.Plans

	if err := attach.EnsureFS(); err != nil && o.Verbose {
		fmt.Fprintf(o.Stderr, "ecli: %v\n", err)
	}
	// Raising RLIMIT_MEMLOCK needs CAP_SYS_RESOURCE; kernels ≥ 5.11
	// account BPF memory to the cgroup instead, so failing here is
	// harmless. (Without CAP_BPF, cilium/ebpf's probe takes any kernel for
	// one without cgroup accounting and this fails too: loading then says
	// what the process lacks, loader.Permission.)
	_ = rlimit.RemoveMemlock()

	tr.mark("plans")
	r := &runner{o: o, name: name, pkg: pkg, spec: spec, tr: tr, twins: newTwins(set), views: views, scan: views.scan,
		needs: loader.NeedsOf(spec, plans), states: st, quiet: o.Quiet && o.OutputFile == ""}
	defer r.close()
	if err := r.load(set.Deferred()); err != nil {
		var nr *loader.NothingRunsError
		if errors.As(err, &nr) {
			for _, f := range nr.Failures {
				r.states.failed(f)
			}
			st.report(o, spec)
		}
		return err
	}
	tr.mark("load")
	err = r.attach(plans)
	st.report(o, spec)
	if err != nil {
		return err
	}
	tr.mark("attach")
	if err := r.startOutputs(); err != nil {
		return err
	}
	// Ready before the trace line, which tests take as "attached".
	if o.Metrics != nil {
		o.Metrics.SetReady(true)
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
	case <-r.intervalsDone:
	}
	tr.mark("run")
	err = r.finish()
	tr.mark("drain and free")
	if err == nil && o.OutputFile != "" {
		if werr := r.out.err(); werr != nil {
			err = fmt.Errorf("--output %s: %w", o.OutputFile, werr)
		}
	}
	return err
}

type runner struct {
	o     *Options
	name  string
	pkg   *packager.Package
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
	globals   *globalsPrinter
	// scan is what the programs do with their maps (progscan).
	scan   *progscan.Result
	printk *printkReader
	stacks *stackPrinterFactory
	// views are --fields and --filter.
	views *eventViews
	// intervalsDone is closed after --count intervals.
	intervalsDone chan struct{}
	// stop ends the samplers' and the flusher's tickers.
	stop     chan struct{}
	tickerWG sync.WaitGroup
	// after runs once output is drained: summaries, symbol tables.
	after []func()
	tr    *tracer

	// coll loads deferred twins; twins tracks them (twins.go).
	coll         *loader.Collection
	twins        *twinState
	loadFailures []error
	// needs are the capabilities the programs take, named when the
	// kernel refuses a process without them (loader.Permission).
	needs loader.Needs
	// states is what became of each program, when Options.Programs wants it.
	states states
	// quiet: --quiet without -o, nothing is printed (events counted).
	quiet bool
	// printers are the buffers' event printers; metrics the --metrics set.
	printers []*eventPrinter
	metrics  *metrics.Set
}

type iterLink struct {
	name string
	link attach.Link
}

// close tears the run down in the order that loses nothing: detach the
// programs, drain the buffers, print the maps one last time, flush the
// output, then free the maps and programs.
func (r *runner) close() {
	if r.metrics != nil {
		r.o.Metrics.SetReady(false)
	}
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
	if r.printk != nil {
		r.printk.close()
		r.printk = nil
	}
	if r.stop != nil {
		close(r.stop)
		r.tickerWG.Wait()
		r.stop = nil
		for _, s := range r.samplers {
			s.printFinal()
		}
		if r.globals != nil {
			r.globals.printFinal()
		}
	}
	if r.out != nil {
		r.out.flush()
	}
	for _, f := range r.after {
		f()
	}
	r.after = nil
	r.stopMetrics()
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

// load creates the maps and programs; programs the kernel refuses are
// skipped with a warning when others load.
// Programs in deferred are not loaded up front: skipped ones, and twins
// held in reserve.
func (r *runner) load(deferred []string) error {
	c, err := loader.Load(r.spec, &loader.Options{Object: r.pkg.Object, KernelBTF: r.o.KernelBTF,
		PackageBTF: r.pkg.BTF, NoKernelBTF: r.o.NoKernelBTF, Verbose: r.o.Verbose, Defer: deferred})
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, loader.Permission("loading", err, r.needs))
	}
	r.coll = c
	r.progs, r.maps = c.Programs, c.Maps
	if release, ok := strings.CutPrefix(c.CORE, loader.COREPackage+" "); ok && r.o.Verbose {
		fmt.Fprintf(r.o.Stderr, "ecli: CO-RE relocated against the package's BTF for %s (the kernel has none of its own)\n", release)
	}
	r.closers = append(r.closers, c.Close)
	for _, f := range c.Failed {
		if r.twins.loadFailed(f) {
			continue // reported once its twins are tried
		}
		f.Err = loader.Permission("loading", f.Err, r.needs)
		r.loadFailures = append(r.loadFailures, f)
	}
	return nil
}

func (r *runner) attach(plans map[string]*attach.Plan) error {
	// Programs that did not load are reported with those that did not
	// attach: as warnings when something runs, else in the error.
	failures := append([]error(nil), r.loadFailures...)
	attached := 0
	for _, name := range loader.SortedPrograms(r.spec) {
		prog := r.progs[name]
		plan := plans[name]
		if prog == nil || plan == nil || r.twins.member(name) {
			continue
		}
		if plan.Kind == attach.Manual {
			r.states.set(name, plan.Section, StateManual, plan.Reason, nil)
			fmt.Fprintf(r.o.Stderr, "ecli: note: program %s (%s) is loaded but not attached automatically: %s\n", termsafe.Line(name), termsafe.Line(plan.Section), termsafe.Line(plan.Reason))
			continue
		}
		fmt.Fprintf(r.o.Stderr, "ecli: %s\n", plan.Line())
		l, err := attach.Attach(prog, plan)
		if err != nil {
			err = loader.Permission("attaching", loader.Explain(err, r.o.Verbose), r.needs)
			failures = append(failures, &ProgramError{Program: name, Section: plan.Section, Err: err})
			continue
		}
		attached++
		r.states.set(name, plan.Section, StateAttached, "", nil)
		r.links = append(r.links, l)
		if plan.Kind == attach.Iter {
			r.iters = append(r.iters, iterLink{name, l})
		}
		if r.o.Verbose {
			fmt.Fprintf(r.o.Stderr, "ecli: attached %s (%s): %s\n", termsafe.Line(name), termsafe.Line(plan.Section), termsafe.Line(l.String()))
		}
	}
	n, errs := r.attachTwins(plans)
	attached += n
	failures = append(failures, errs...)
	for _, f := range failures {
		r.states.failed(f)
	}
	if attached == 0 && len(failures) > 0 {
		if pe := onlyPermission(failures); pe != nil {
			return fmt.Errorf("%s: %w", r.name, pe)
		}
		return loader.NothingRuns(r.name, failures)
	}
	for _, f := range failures {
		fmt.Fprintf(r.o.Stderr, "ecli: warning: skipping %s\n", termsafe.Text(f.Error()))
	}
	return nil
}

// onlyPermission returns the first failure's *loader.PermissionError when
// every failure is one: the one line that says what the process lacks
// stands for them all.
func onlyPermission(failures []error) *loader.PermissionError {
	var first *loader.PermissionError
	for _, f := range failures {
		var pe *loader.PermissionError
		if !errors.As(f, &pe) {
			return nil
		}
		if first == nil {
			first = pe
		}
	}
	return first
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

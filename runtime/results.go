package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/progscan"
	"github.com/ecc-bpf/ecc/runtime/hist"
	"github.com/ecc-bpf/ecc/runtime/metrics"
)

// Results the programs compute are shown without being asked for, the
// way libbpf-tools' own user space prints them (docs/guide.md, "What ecli
// shows"). The rule, from the instructions (package progscan):
//
//   - a hash, array, LRU or per-CPU map that programs write and never
//     delete from is a result; maps programs delete from hold transient
//     state (start timestamps by thread id), maps whose values are copied
//     out to a buffer are scratch space, maps programs only read are
//     configuration: those are not shown;
//   - a result whose value holds a `slots` integer array is a log2
//     histogram per key (the libbpf-tools shape), else a key-value table;
//     per-CPU values are summed; stack ids in keys are symbolised;
//   - globals of .bss and .data (not .rodata, not statics) that programs
//     store into are results too: counters and `struct hist hists[N]`.
//
// They print at exit and, with --interval, every interval (then showing
// what accumulated during that interval).

// histUnit guesses the unit of automatic histograms from libbpf-tools'
// flags: targ_ms / targ_ns select milliseconds / nanoseconds over the
// default microseconds.
func (r *runner) histUnit() string {
	flag := func(name string) (on, found bool) {
		v := r.spec.Variables[name]
		if v == nil {
			return false, false
		}
		return !isZero(v.Value), true
	}
	ms, hasMS := flag("targ_ms")
	ns, hasNS := flag("targ_ns")
	switch {
	case ms:
		return "msecs"
	case ns:
		return "nsecs"
	case hasMS || hasNS:
		return "usecs"
	}
	return "value"
}

// startResults adds a sampler for every result map without @sample, and
// a printer for result globals.
func (r *runner) startResults(scan *progscan.Result) {
	meta := &r.pkg.Meta
	for _, name := range sortedMaps(r.spec) {
		ms := r.spec.Maps[name]
		m := r.maps[name]
		if m == nil || isDataSectionName(name) {
			continue
		}
		if mm := meta.BpfSkel.Map(name); mm != nil && mm.Sample != nil {
			continue
		}
		shows, role := progscan.Shows(r.spec, scan, name)
		if shows == "" {
			if r.o.Verbose && role != progscan.RoleOther {
				fmt.Fprintf(r.o.Stderr, "ecli: map %s holds %s, not shown (add /// @sample above it to show it)\n", name, role)
			}
			continue
		}
		if ms.Key == nil || ms.Value == nil {
			if r.o.Verbose {
				fmt.Fprintf(r.o.Stderr, "ecli: map %s holds results but has no BTF key and value types (declare it with __type(key, ...) and __type(value, ...)), not shown\n", name)
			}
			continue
		}
		smp := &packager.Sample{Type: packager.SampleDefaultKV, ClearMap: r.o.Interval > 0}
		if progscan.IsHistogram(ms.Value) {
			smp.Type, smp.Unit = packager.SampleLog2Hist, r.histUnit()
		}
		s, err := newSampler(r, name, m, ms, smp)
		if err != nil {
			fmt.Fprintf(r.o.Stderr, "ecli: warning: result map %s is not shown: %v\n", name, err)
			continue
		}
		if smp.Type == packager.SampleDefaultKV {
			if r.stacks == nil {
				r.stacks = newStackPrinterFactory(r)
			}
			s.keyStacks = r.stacks.forType(ms.Key)
		}
		if r.o.Verbose {
			fmt.Fprintf(r.o.Stderr, "ecli: map %s holds results: shown as %s\n", name, smp.Type)
		}
		r.samplers = append(r.samplers, s)
	}
	if g := newGlobalsPrinter(r, scan); g != nil {
		r.globals = g
	}
}

func isDataSectionName(name string) bool {
	return name == ".bss" || name == ".data" || name == ".rodata" || name == ".kconfig" ||
		strings.HasPrefix(name, ".data.") || strings.HasPrefix(name, ".rodata.") || strings.HasPrefix(name, ".bss.")
}

// printResults prints every sampler and the result globals once.
func (r *runner) printResults() {
	for _, s := range r.samplers {
		s.print()
	}
	if r.globals != nil {
		r.globals.print()
	}
}

// startInterval prints the results every --interval, and ends the run
// after --count intervals.
func (r *runner) startInterval() {
	if r.o.Interval <= 0 {
		return
	}
	n := 0
	r.every(r.o.Interval, func() {
		if r.o.Count > 0 && n >= r.o.Count {
			return
		}
		r.printResults()
		n++
		if r.o.Count > 0 && n == r.o.Count {
			close(r.intervalsDone)
		}
	})
}

// resultVar is one global that programs write.
type resultVar struct {
	name    string
	section string
	off     int
	size    int
	typ     btf.Type
	dec     *decode.Decoder
	leaves  []intLeaf
	// hist: the global is a histogram (struct with slots) or an array of
	// them (n > 0: one per index).
	hist        bool
	n, elemSize int
	slots       *sampler
	// --metrics (exporter.go).
	mh *metrics.Histogram
	mv []numField
}

// globalsPrinter prints the result globals.
type globalsPrinter struct {
	r     *runner
	vars  []*resultVar
	order binary.ByteOrder
	// prev holds the last values printed, for interval deltas.
	prev map[string][]byte
	last time.Time
}

func newGlobalsPrinter(r *runner, scan *progscan.Result) *globalsPrinter {
	g := &globalsPrinter{r: r, order: r.spec.ByteOrder, prev: map[string][]byte{}}
	if g.order == nil {
		g.order = binary.NativeEndian
	}
	for _, sec := range sortedMaps(r.spec) {
		if sec != ".bss" && sec != ".data" && !strings.HasPrefix(sec, ".bss.") && !strings.HasPrefix(sec, ".data.") {
			continue
		}
		use := scan.Maps[sec]
		ds, ok := r.spec.Maps[sec].Value.(*btf.Datasec)
		if !ok || use == nil || len(use.Written) == 0 || r.maps[sec] == nil {
			continue
		}
		for _, vs := range ds.Vars {
			v, ok := vs.Type.(*btf.Var)
			if !ok || v.Linkage == btf.StaticVar || r.spec.Variables[v.Name] == nil || internalVarName(v.Name) {
				continue
			}
			if !use.WrittenAt(vs.Offset, vs.Size) {
				continue
			}
			rv := &resultVar{name: v.Name, section: sec, off: int(vs.Offset), size: int(vs.Size), typ: v.Type, leaves: intLeaves(v.Type)}
			if err := g.compile(rv); err != nil {
				fmt.Fprintf(r.o.Stderr, "ecli: warning: result global %s is not shown: %v\n", v.Name, err)
				continue
			}
			if r.o.Verbose {
				fmt.Fprintf(r.o.Stderr, "ecli: global %s holds results\n", v.Name)
			}
			g.vars = append(g.vars, rv)
		}
	}
	if len(g.vars) == 0 {
		return nil
	}
	return g
}

func internalVarName(name string) bool {
	return strings.HasPrefix(name, "__ecc_") || strings.HasPrefix(name, "__eunomia_dummy")
}

func (g *globalsPrinter) compile(rv *resultVar) error {
	t := btf.UnderlyingType(rv.typ)
	if a, ok := t.(*btf.Array); ok && progscan.IsHistogram(a.Type) {
		sz, err := btf.Sizeof(a.Type)
		if err != nil {
			return err
		}
		rv.hist, rv.n, rv.elemSize = true, int(a.Nelems), sz
		t = a.Type
	} else if progscan.IsHistogram(t) {
		rv.hist = true
	}
	if rv.hist {
		// Reuse the histogram layout finder of @sample maps.
		s := &sampler{name: rv.name, spec: &ebpf.MapSpec{Value: t}, sample: &packager.Sample{Type: packager.SampleLog2Hist, Unit: g.r.histUnit()}, order: g.order, r: g.r}
		if err := s.findSlots(); err != nil {
			return err
		}
		rv.slots = s
		return nil
	}
	var err error
	rv.dec, err = decode.New(rv.typ, &decode.Options{ByteOrder: g.order})
	return err
}

// read returns the current bytes of every result global, by name.
func (g *globalsPrinter) read() map[string][]byte {
	sections := map[string][]byte{}
	out := map[string][]byte{}
	for _, rv := range g.vars {
		data, ok := sections[rv.section]
		if !ok {
			var raw []byte
			if err := g.r.maps[rv.section].Lookup(uint32(0), &raw); err != nil {
				fmt.Fprintf(g.r.o.Stderr, "ecli: warning: read %s: %v\n", rv.section, err)
			}
			sections[rv.section], data = raw, raw
		}
		if rv.off+rv.size <= len(data) {
			out[rv.name] = bytes.Clone(data[rv.off : rv.off+rv.size])
		}
	}
	return out
}

func (g *globalsPrinter) printFinal() {
	if !g.last.IsZero() && time.Since(g.last) < 200*time.Millisecond {
		return
	}
	g.print()
}

func (g *globalsPrinter) print() {
	g.last = time.Now()
	now := g.last
	if g.r.quiet {
		return
	}
	cur := g.read()
	vals := cur
	if g.r.o.Interval > 0 {
		vals = map[string][]byte{}
		for _, rv := range g.vars {
			if c, ok := cur[rv.name]; ok {
				vals[rv.name] = subtractLeaves(g.order, rv.leaves, c, g.prev[rv.name])
			}
		}
		g.prev = cur
	}
	var b bytes.Buffer
	var rows [][]string
	globals := map[string]json.RawMessage{}
	var names []string
	for _, rv := range g.vars {
		v, ok := vals[rv.name]
		if !ok {
			continue
		}
		if rv.hist {
			g.printHist(&b, now, rv, v)
			continue
		}
		if g.r.o.JSON {
			if j, err := rv.dec.AppendJSON(nil, v); err == nil {
				globals[rv.name] = j
				names = append(names, rv.name)
			}
			continue
		}
		rows = append(rows, []string{rv.name, compactText(rv.dec, v)})
	}
	if g.r.o.JSON && len(names) > 0 {
		line, _ := json.Marshal(struct {
			Time    string                     `json:"time"`
			Globals map[string]json.RawMessage `json:"globals"`
		}{now.Format(time.RFC3339Nano), globals})
		b.Write(line)
		b.WriteByte('\n')
	}
	if len(rows) > 0 {
		fmt.Fprintf(&b, "\n%s globals\n", now.Format("15:04:05"))
		hist.Table(&b, []string{"GLOBAL", "VALUE"}, rows)
	}
	g.r.out.write(b.Bytes())
	g.r.out.flush()
}

// compactText prints a value in one cell: a struct as name=value pairs,
// anything else as its text.
func compactText(d *decode.Decoder, v []byte) string {
	cols := d.Columns()
	if len(cols) == 1 && cols[0].Member == "" {
		t, _ := d.AppendText(nil, v)
		return strings.TrimSpace(string(t))
	}
	parts := make([]string, 0, len(cols))
	for i, c := range cells(d, v) {
		parts = append(parts, cols[i].Member+"="+strings.TrimSpace(c))
	}
	return strings.Join(parts, " ")
}

// printHist prints a histogram global, or each non-empty histogram of an
// array of them.
func (g *globalsPrinter) printHist(b *bytes.Buffer, now time.Time, rv *resultVar, v []byte) {
	s := rv.slots
	if rv.n == 0 {
		g.histOne(b, now, rv, -1, v)
		return
	}
	for i := 0; i < rv.n; i++ {
		elem := v[i*rv.elemSize : (i+1)*rv.elemSize]
		if isZero(s.slotsBytes(elem)) {
			continue
		}
		g.histOne(b, now, rv, i, elem)
	}
}

func (g *globalsPrinter) histOne(b *bytes.Buffer, now time.Time, rv *resultVar, index int, v []byte) {
	s := rv.slots
	slots := s.slotsOf(v)
	unit := s.sample.Unit
	if g.r.o.JSON {
		obj := map[string]any{"time": now.Format(time.RFC3339Nano), "global": rv.name, "type": packager.SampleLog2Hist,
			"hist": json.RawMessage(hist.AppendLog2JSON(nil, unit, slots))}
		if index >= 0 {
			obj["index"] = index
		}
		line, _ := json.Marshal(obj)
		b.Write(line)
		b.WriteByte('\n')
		return
	}
	name := rv.name
	if index >= 0 {
		name = fmt.Sprintf("%s[%d]", rv.name, index)
	}
	fmt.Fprintf(b, "\n%s %s\n", now.Format("15:04:05"), name)
	hist.Log2(b, unit, slots)
}

package runtime

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/metrics"
)

// --metrics: what ecli prints becomes Prometheus metrics (docs/metrics.md).
// The maps are read at scrape time by the samplers' own entries(), and the
// samplers' printing reads feed the same families, so that what a
// clearing read takes out of a map stays in the totals.

// startMetrics builds the run's metrics from the buffers' counts, the
// samplers and the result globals, and registers them.
func (r *runner) startMetrics() error {
	if r.o.Metrics == nil {
		return nil
	}
	set := metrics.NewSet(r.o.MetricsMaxSeries)
	for _, p := range r.printers {
		set.AddBuffer(p.buffer, func() uint64 { return p.count.Load() + p.filtered.Load() }, p.lostCount)
	}
	pkg := strings.TrimSuffix(r.pkg.Meta.BpfSkel.ObjName, "_bpf")
	for _, s := range r.samplers {
		s.addMetrics(set, pkg)
	}
	if r.globals != nil {
		r.globals.addMetrics(set, pkg)
	}
	if err := r.o.Metrics.Register(set); err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	r.metrics = set
	return nil
}

// stopMetrics ends the reads before the maps are freed.
func (r *runner) stopMetrics() {
	if r.metrics == nil {
		return
	}
	r.o.Metrics.SetReady(false)
	r.metrics.Close()
	r.o.Metrics.Unregister(r.metrics)
	r.metrics = nil
}

// unitName is the unit a histogram's name ends with ("" for "value").
func unitName(unit string) string {
	if unit == "value" {
		return ""
	}
	return unit
}

// keyLabels names a key's fields as labels: the members of a struct key,
// "key" for any other.
func keyLabels(d *decode.Decoder) []string {
	return metrics.LabelNames(keyFields(d))
}

func keyFields(d *decode.Decoder) []string {
	cols := d.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Member
	}
	return names
}

// labelValues formats a key as label values: its text cells, as the
// tables print them.
func labelValues(d *decode.Decoder, key []byte) []string {
	out := cells(d, key)
	for i, c := range out {
		out[i] = strings.TrimSpace(c)
	}
	return out
}

// numField is an integer of a value that becomes a gauge or counter.
type numField struct {
	v            *metrics.Values
	off, size    int
	signed       bool
	name, member string
}

// numFields lists the integers of a value of type t that become
// metrics: t itself when it is an integer (named for its map or
// global), else its top-level integer members.
func numFields(t btf.Type, name string) []numField {
	isInt := func(t btf.Type) (*btf.Int, bool) {
		it, ok := btf.UnderlyingType(t).(*btf.Int)
		if !ok || it.Encoding&(btf.Bool|btf.Char) != 0 || it.Name == "char" {
			return nil, false
		}
		switch it.Size {
		case 1, 2, 4, 8:
			return it, true
		}
		return nil, false
	}
	if it, ok := isInt(t); ok {
		return []numField{{size: int(it.Size), signed: it.Encoding&btf.Signed != 0, name: name}}
	}
	st, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return nil
	}
	var out []numField
	for _, m := range st.Members {
		it, ok := isInt(m.Type)
		if !ok || m.BitfieldSize > 0 || m.Offset%8 != 0 || m.Name == "" {
			continue
		}
		out = append(out, numField{off: int(m.Offset.Bytes()), size: int(it.Size), signed: it.Encoding&btf.Signed != 0, name: m.Name, member: m.Name})
	}
	return out
}

// newValues makes the gauge or counter of one field. The rule
// (docs/metrics.md): an unsigned integer is a counter when ecli clears
// its map (it keeps the running total) or when its name says it counts
// (metrics.IsCount); anything else is a gauge.
func newValues(set *metrics.Set, f *numField, pkg, owner, what string, labels []string, cleared bool) {
	counter := !f.signed && (cleared || metrics.IsCount(f.name))
	name := metrics.Name(pkg, owner, f.member)
	help := fmt.Sprintf("%s of package %s", what, pkg)
	if f.member != "" {
		help = fmt.Sprintf("Member %s of %s", f.member, help)
	}
	if counter {
		name += "_total"
	}
	f.v = set.NewValues(metrics.ValuesOpts{Name: name, Help: help, Labels: labels, Counter: counter, Kept: cleared})
}

func (f *numField) value(order binary.ByteOrder, v []byte) (float64, bool) {
	if f.off+f.size > len(v) {
		return 0, false
	}
	u := readUint(order, v[f.off:], f.size)
	if !f.signed {
		return float64(u), true
	}
	shift := 64 - 8*f.size
	return float64(int64(u<<shift) >> shift), true
}

// addMetrics adds the sampler's map to set: a histogram per histogram
// map, a gauge or counter per integer of other values.
func (s *sampler) addMetrics(set *metrics.Set, pkg string) {
	cleared := s.sample.ClearMap
	if s.hist {
		var labels []string
		if !s.keyIsSlot {
			// The key's fields, then the value's other members (comm…),
			// as the text heading shows them.
			names := keyFields(s.keyDec)
			s.extra = s.extraColumns()
			for _, i := range s.extra {
				names = append(names, s.valDec.Columns()[i].Member)
			}
			labels = metrics.LabelNames(names)
		}
		kind := "Log2"
		if s.sample.Type == packager.SampleLinearHist {
			kind = "Linear"
		}
		unit := s.sample.Unit
		if unit == "" {
			unit = "value"
		}
		h := set.NewHistogram(metrics.HistogramOpts{
			Name:   metrics.Name(pkg, s.name, unitName(unit)),
			Help:   fmt.Sprintf("%s histogram of map %s of package %s, in %s", kind, s.name, pkg, unit),
			Labels: labels, Linear: s.sample.Type == packager.SampleLinearHist, Base: 0, Step: 1,
			Read: s.metricsRead,
		})
		s.mu.Lock() // the sampler may be printing already
		s.mh = h
		s.mu.Unlock()
		return
	}
	mv := numFields(s.spec.Value, s.name)
	if len(mv) == 0 {
		return
	}
	labels := keyLabels(s.keyDec)
	for i := range mv {
		newValues(set, &mv[i], pkg, s.name, "Map "+s.name, labels, cleared)
	}
	// One family reads the map for all.
	mv[0].v.SetRead(s.metricsRead)
	s.mu.Lock()
	s.mv = mv
	s.mu.Unlock()
}

// metricsRead reads the map for a scrape (without clearing it).
func (s *sampler) metricsRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := s.entries(false)
	if err != nil {
		return
	}
	s.feed(ents, false)
}

// feed hands what a read found to the metrics; s.mu is held.
func (s *sampler) feed(ents []entry, cleared bool) {
	switch {
	case s.mh != nil && s.keyIsSlot:
		s.mh.Update([]metrics.HistEntry{{Slots: s.slotsOfKeys(ents)}}, cleared)
	case s.mh != nil:
		hs := make([]metrics.HistEntry, len(ents))
		for i, e := range ents {
			labels := labelValues(s.keyDec, e.key)
			if len(s.extra) > 0 {
				vals := labelValues(s.valDec, e.val)
				for _, j := range s.extra {
					labels = append(labels, vals[j])
				}
			}
			hs[i] = metrics.HistEntry{Labels: labels, Slots: s.slotsOf(e.val)}
		}
		s.mh.Update(hs, cleared)
	case len(s.mv) > 0:
		labels := make([][]string, len(ents))
		for i, e := range ents {
			labels[i] = labelValues(s.keyDec, e.key)
		}
		for _, f := range s.mv {
			vs := make([]metrics.ValueEntry, 0, len(ents))
			for i, e := range ents {
				if x, ok := f.value(s.order, e.val); ok {
					vs = append(vs, metrics.ValueEntry{Labels: labels[i], Value: x})
				}
			}
			f.v.Update(vs, cleared)
		}
	}
}

// addMetrics adds the result globals: histograms (an index label for
// arrays of them) and integers.
func (g *globalsPrinter) addMetrics(set *metrics.Set, pkg string) {
	for _, rv := range g.vars {
		if rv.hist {
			var labels []string
			if rv.n > 0 {
				labels = []string{"index"}
			}
			unit := rv.slots.sample.Unit
			rv.mh = set.NewHistogram(metrics.HistogramOpts{
				Name:   metrics.Name(pkg, rv.name, unitName(unit)),
				Help:   fmt.Sprintf("Log2 histogram of global %s of package %s, in %s", rv.name, pkg, unit),
				Labels: labels,
			})
			continue
		}
		rv.mv = numFields(rv.typ, rv.name)
		for i := range rv.mv {
			newValues(set, &rv.mv[i], pkg, rv.name, "Global "+rv.name, nil, false)
		}
	}
	set.BeforeCollect(g.metricsRead)
}

// metricsRead reads the result globals for a scrape. Globals are never
// cleared: their values are the totals.
func (g *globalsPrinter) metricsRead() {
	cur := g.read()
	for _, rv := range g.vars {
		v, ok := cur[rv.name]
		if !ok {
			continue
		}
		if rv.mh != nil {
			var hs []metrics.HistEntry
			if rv.n == 0 {
				hs = append(hs, metrics.HistEntry{Slots: rv.slots.slotsOf(v)})
			}
			for i := 0; i < rv.n; i++ {
				elem := v[i*rv.elemSize : (i+1)*rv.elemSize]
				if !isZero(rv.slots.slotsBytes(elem)) {
					hs = append(hs, metrics.HistEntry{Labels: []string{strconv.Itoa(i)}, Slots: rv.slots.slotsOf(elem)})
				}
			}
			rv.mh.Update(hs, false)
			continue
		}
		for _, f := range rv.mv {
			if x, ok := f.value(g.order, v); ok {
				f.v.Update([]metrics.ValueEntry{{Value: x}}, false)
			}
		}
	}
}

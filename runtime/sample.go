package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/internal/ctype"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/hist"
	"github.com/ecc-bpf/ecc/runtime/metrics"
)

// sampler prints one @sample map every interval.
type sampler struct {
	r      *runner
	name   string
	m      *ebpf.Map
	spec   *ebpf.MapSpec
	sample *packager.Sample
	keyDec *decode.Decoder
	valDec *decode.Decoder
	// Histogram layout: slots is the array of counts inside the value (or
	// the value itself); slotOff its byte offset; nslots its length.
	hist    bool
	slotOff int
	slotSz  int
	nslots  int
	// keyIsSlot: each entry is one slot (key = slot index, value = count).
	keyIsSlot bool
	order     binary.ByteOrder
	// last is when the map was last printed.
	last time.Time

	// perCPU maps have one value per CPU, summed as leaves says.
	perCPU bool
	leaves []intLeaf
	// array maps cannot delete entries: clearing writes zeros, and
	// all-zero entries are not shown when skipZero.
	array    bool
	skipZero bool
	// keyStacks symbolises stack ids held in keys (profile-style counts).
	keyStacks *stackPrinter

	// mu orders the reads of the map: printing (which may clear it) and
	// scrapes (--metrics), which feed mh or mv (exporter.go).
	mu sync.Mutex
	mh *metrics.Histogram
	mv []numField
	// extra: the value's columns that are labels beside the key's.
	extra []int
}

func (r *runner) startSamplers() error {
	meta := &r.pkg.Meta
	for _, mm := range meta.BpfSkel.Maps {
		if mm.Sample == nil {
			continue
		}
		m := r.maps[mm.Name]
		ms := r.spec.Maps[mm.Name]
		if m == nil || ms == nil {
			continue
		}
		s, err := newSampler(r, mm.Name, m, ms, mm.Sample)
		if err != nil {
			return err
		}
		r.samplers = append(r.samplers, s)
		if r.o.Interval > 0 {
			continue // printed on --interval with the other results
		}
		interval := time.Duration(mm.Sample.Interval) * time.Millisecond
		if interval <= 0 {
			interval = time.Second
		}
		r.every(interval, s.print)
	}
	return nil
}

func newSampler(r *runner, name string, m *ebpf.Map, ms *ebpf.MapSpec, smp *packager.Sample) (*sampler, error) {
	s := &sampler{r: r, name: name, m: m, spec: ms, sample: smp, order: r.spec.ByteOrder}
	if s.order == nil {
		s.order = binary.NativeEndian
	}
	if ms.Key == nil || ms.Value == nil {
		return nil, fmt.Errorf("map %s: @sample needs BTF key and value types (declare the map with __type(key, ...) and __type(value, ...))", name)
	}
	switch ms.Type {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash:
		s.perCPU = true
	}
	switch ms.Type {
	case ebpf.Array, ebpf.PerCPUArray:
		s.array, s.skipZero = true, true
	}
	s.leaves = intLeaves(ms.Value)
	var err error
	if s.keyDec, err = decode.New(ms.Key, &decode.Options{ByteOrder: s.order}); err != nil {
		return nil, fmt.Errorf("map %s key: %w", name, err)
	}
	if s.valDec, err = decode.New(ms.Value, &decode.Options{ByteOrder: s.order}); err != nil {
		return nil, fmt.Errorf("map %s value: %w", name, err)
	}
	switch smp.Type {
	case packager.SampleLog2Hist, packager.SampleLinearHist:
		s.hist = true
		if err := s.findSlots(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// findSlots locates the counts of a histogram: an integer array member of
// the value (preferring one called slots), the value itself if it is such an
// array, or, with integer keys and values, one entry per slot.
func (s *sampler) findSlots() error {
	val := btf.UnderlyingType(s.spec.Value)
	intArray := func(t btf.Type) (int, int, bool) {
		a, ok := btf.UnderlyingType(t).(*btf.Array)
		if !ok {
			return 0, 0, false
		}
		it, ok := btf.UnderlyingType(a.Type).(*btf.Int)
		if !ok || (it.Size != 4 && it.Size != 8) {
			return 0, 0, false
		}
		return int(it.Size), int(a.Nelems), true
	}
	if sz, n, ok := intArray(val); ok {
		s.slotSz, s.nslots = sz, n
		return nil
	}
	if st, ok := val.(*btf.Struct); ok {
		found := false
		for _, mb := range st.Members {
			if sz, n, ok := intArray(mb.Type); ok && (!found || mb.Name == "slots") {
				s.slotOff, s.slotSz, s.nslots = int(mb.Offset.Bytes()), sz, n
				found = true
			}
		}
		if found {
			return nil
		}
	}
	_, keyInt := btf.UnderlyingType(s.spec.Key).(*btf.Int)
	if it, ok := val.(*btf.Int); ok && keyInt && (it.Size == 4 || it.Size == 8) {
		s.keyIsSlot, s.slotSz = true, int(it.Size)
		return nil
	}
	return fmt.Errorf("map %s: a %s sample needs a value with an integer array (e.g. __u32 slots[26]), or integer keys (slot) and values (count); its value is %s", s.name, s.sample.Type, ctype.TypeName(s.spec.Value))
}

// Text tables show the largest entries first, up to these many rows
// (stack rows span many lines); JSON shows every entry.
const (
	maxTableRows = 1000
	maxStackRows = 100
)

type entry struct {
	key, val []byte
}

// entries reads the map (and clears it when clear is set): per-CPU
// values summed, all-zero entries of arrays left out.
func (s *sampler) entries(clear bool) ([]entry, error) {
	var out []entry
	it := s.m.Iterate()
	var k, v []byte
	var vs [][]byte
	size := int(s.spec.ValueSize)
	for {
		var ok bool
		if s.perCPU {
			ok = it.Next(&k, &vs)
			if ok {
				v = sumPerCPU(s.order, s.leaves, size, vs)
			}
		} else {
			ok = it.Next(&k, &v)
		}
		if !ok {
			break
		}
		if s.skipZero && isZero(v) {
			continue
		}
		out = append(out, entry{bytes.Clone(k), bytes.Clone(v)})
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if clear {
		s.clear(out)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].key, out[j].key) < 0 })
	return out, nil
}

// clear empties the entries just read: deleted from hashes, zeroed in
// arrays (which cannot delete).
func (s *sampler) clear(ents []entry) {
	if !s.array {
		for _, e := range ents {
			s.m.Delete(e.key)
		}
		return
	}
	zero := make([]byte, s.spec.ValueSize)
	for _, e := range ents {
		if s.perCPU {
			n, err := ebpf.PossibleCPU()
			if err != nil {
				return
			}
			all := make([][]byte, n)
			for i := range all {
				all[i] = zero
			}
			s.m.Put(e.key, all)
		} else {
			s.m.Put(e.key, zero)
		}
	}
}

func (s *sampler) uint(b []byte) uint64 { return readUint(s.order, b, s.slotSz) }

// slotsOfKeys gathers the slots of a map with one entry per slot.
func (s *sampler) slotsOfKeys(ents []entry) []uint64 {
	var slots []uint64
	for _, e := range ents {
		i := int(readUint(s.order, e.key, len(e.key)))
		if i < 0 || i > 1<<16 {
			continue
		}
		for len(slots) <= i {
			slots = append(slots, 0)
		}
		slots[i] += s.uint(e.val)
	}
	return slots
}

func (s *sampler) slotsOf(v []byte) []uint64 {
	slots := make([]uint64, s.nslots)
	for i := range slots {
		off := s.slotOff + i*s.slotSz
		if off+s.slotSz <= len(v) {
			slots[i] = s.uint(v[off:])
		}
	}
	return slots
}

// slotsBytes returns the bytes of the counts inside a value.
func (s *sampler) slotsBytes(v []byte) []byte {
	end := s.slotOff + s.nslots*s.slotSz
	if end > len(v) {
		return nil
	}
	return v[s.slotOff:end]
}

// printFinal prints the map at exit unless a tick just printed it.
func (s *sampler) printFinal() {
	if !s.last.IsZero() && time.Since(s.last) < 200*time.Millisecond {
		return
	}
	s.print()
}

func (s *sampler) print() {
	s.last = time.Now()
	s.mu.Lock()
	ents, err := s.entries(s.sample.ClearMap)
	if err == nil {
		s.feed(ents, s.sample.ClearMap)
	}
	s.mu.Unlock()
	if err != nil {
		fmt.Fprintf(s.r.o.Stderr, "ecli: warning: read map %s: %v\n", s.name, err)
		return
	}
	if s.r.quiet {
		return
	}
	var b bytes.Buffer
	now := time.Now()
	unit := s.sample.Unit
	if unit == "" {
		unit = "value"
	}
	switch {
	case s.hist && s.keyIsSlot:
		s.writeHist(&b, now, unit, nil, nil, s.slotsOfKeys(ents))
	case s.hist:
		if s.r.o.JSON {
			for _, e := range ents {
				s.writeHist(&b, now, unit, e.key, e.val, s.slotsOf(e.val))
			}
			break
		}
		fmt.Fprintf(&b, "\n%s %s\n", now.Format("15:04:05"), s.name)
		// One entry with a zero key is the whole system: no heading.
		single := len(ents) == 1 && isZero(ents[0].key)
		for _, e := range ents {
			key := e.key
			if single {
				key = nil
			}
			s.writeHist(&b, now, unit, key, e.val, s.slotsOf(e.val))
		}
	default:
		s.writeKV(&b, now, ents)
	}
	s.r.out.write(b.Bytes())
	s.r.out.flush()
}

func (s *sampler) writeHist(b *bytes.Buffer, now time.Time, unit string, key, val []byte, slots []uint64) {
	linear := s.sample.Type == packager.SampleLinearHist
	if s.r.o.JSON {
		obj := map[string]any{"time": now.Format(time.RFC3339Nano), "map": s.name, "type": s.sample.Type}
		if key != nil {
			if kj, err := s.keyDec.AppendJSON(nil, key); err == nil {
				obj["key"] = json.RawMessage(kj)
			}
		}
		if linear {
			obj["hist"] = json.RawMessage(hist.AppendLinearJSON(nil, unit, 0, 1, slots))
		} else {
			obj["hist"] = json.RawMessage(hist.AppendLog2JSON(nil, unit, slots))
		}
		line, _ := json.Marshal(obj)
		b.Write(line)
		b.WriteByte('\n')
		return
	}
	if key != nil {
		kt, _ := s.keyDec.AppendText(nil, key)
		heading := strings.TrimSpace(string(kt))
		if extra := s.valueExtras(val); extra != "" {
			heading += " " + extra
		}
		name := strings.ToLower(s.keyDec.Columns()[0].Name)
		if len(s.keyDec.Columns()) == 1 && name == "value" {
			name = "key"
		}
		fmt.Fprintf(b, "\n%s = %s\n", name, heading)
	}
	if linear {
		hist.Linear(b, unit, 0, 1, slots)
	} else {
		hist.Log2(b, unit, slots)
	}
}

// valueExtras prints the non-slot members of a histogram value (comm…).
func (s *sampler) valueExtras(val []byte) string {
	extra := s.extraColumns()
	if len(extra) == 0 {
		return ""
	}
	cols, cs := s.valDec.Columns(), cells(s.valDec, val)
	parts := make([]string, 0, len(extra))
	for _, i := range extra {
		parts = append(parts, strings.ToLower(cols[i].Name)+"="+strings.TrimSpace(cs[i]))
	}
	return strings.Join(parts, " ")
}

// extraColumns are the value's text columns other than the slots: what a
// histogram's heading shows beside its key (comm…), and --metrics' labels.
func (s *sampler) extraColumns() []int {
	st, ok := btf.UnderlyingType(s.spec.Value).(*btf.Struct)
	if !ok || len(st.Members) < 2 {
		return nil
	}
	slots := ""
	for _, m := range st.Members {
		if int(m.Offset.Bytes()) == s.slotOff {
			slots = m.Name
		}
	}
	var out []int
	for i, c := range s.valDec.Columns() {
		if c.Member != slots {
			out = append(out, i)
		}
	}
	return out
}

func (s *sampler) writeKV(b *bytes.Buffer, now time.Time, ents []entry) {
	if s.r.o.JSON {
		b.WriteString(`{"time":"`)
		b.WriteString(now.Format(time.RFC3339Nano))
		b.WriteString(`","map":`)
		nj, _ := json.Marshal(s.name)
		b.Write(nj)
		b.WriteString(`,"entries":[`)
		var line []byte
		for i, e := range ents {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(line, `{"key":`...)
			line, _ = s.keyDec.AppendJSON(line, e.key)
			if s.keyStacks != nil {
				line = s.keyStacks.appendJSON(line, e.key)
			}
			line = append(line, `,"value":`...)
			line, _ = s.valDec.AppendJSON(line, e.val)
			line = append(line, '}')
		}
		b.Write(line)
		b.WriteString("]}\n")
		return
	}
	var header []string
	for _, c := range s.keyDec.Columns() {
		if len(s.keyDec.Columns()) == 1 && c.Name == "VALUE" {
			c.Name = "KEY"
		}
		header = append(header, c.Name)
	}
	for _, c := range s.valDec.Columns() {
		header = append(header, c.Name)
	}
	// Largest values first when the value is one number; stack counts by
	// their first number (offcputime's delta).
	if it, ok := btf.UnderlyingType(s.spec.Value).(*btf.Int); ok && (it.Size == 4 || it.Size == 8) {
		s.slotSz = int(it.Size)
		sort.SliceStable(ents, func(i, j int) bool { return s.uint(ents[i].val) > s.uint(ents[j].val) })
	} else if s.keyStacks != nil && len(s.leaves) > 0 {
		l := s.leaves[0]
		sort.SliceStable(ents, func(i, j int) bool {
			return readUint(s.order, ents[i].val[l.off:], l.size) > readUint(s.order, ents[j].val[l.off:], l.size)
		})
	}
	limit := maxTableRows
	if s.keyStacks != nil {
		limit = maxStackRows
	}
	more := 0
	if len(ents) > limit {
		more, ents = len(ents)-limit, ents[:limit]
	}
	defer func() {
		if more > 0 {
			fmt.Fprintf(b, "    ... %d more entries (-j prints them all)\n", more)
		}
	}()
	rows := make([][]string, 0, len(ents))
	for _, e := range ents {
		rows = append(rows, append(cells(s.keyDec, e.key), cells(s.valDec, e.val)...))
	}
	fmt.Fprintf(b, "\n%s %s\n", now.Format("15:04:05"), s.name)
	if s.keyStacks == nil {
		hist.KV(b, header, rows)
		return
	}
	// Keys holding stack ids: each row, then its frames, largest first
	// (the rows are already in that order when the value is a number).
	table := hist.AppendTable(nil, header, rows)
	lines := bytes.SplitAfter(table, []byte("\n"))
	b.Write(lines[0])
	for i, e := range ents {
		if i+1 < len(lines) {
			b.Write(bytes.TrimSuffix(lines[i+1], []byte("\n")))
		}
		b.Write(s.keyStacks.appendText(nil, e.key))
		b.WriteByte('\n')
	}
}

// cells formats a value as one string per text column.
func cells(d *decode.Decoder, data []byte) []string {
	out := make([]string, len(d.Columns()))
	var b []byte
	for i := range out {
		b, _ = d.AppendCell(b[:0], data, i)
		out[i] = string(b)
	}
	return out
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readUint reads an unsigned integer of 1, 2, 4 or 8 bytes (0 otherwise).
func readUint(order binary.ByteOrder, b []byte, size int) uint64 {
	if len(b) < size {
		return 0
	}
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	case 8:
		return order.Uint64(b)
	}
	return 0
}

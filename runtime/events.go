package runtime

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/progscan"
)

// output serialises everything printed on stdout. Readers append whole lines
// under the lock; a ticker flushes, so bursts cost one write per interval.
type output struct {
	mu    sync.Mutex
	w     *bufio.Writer
	dirty bool
	// lastSec/clock cache the "15:04:05" prefix of text lines.
	lastSec int64
	clock   [8]byte
	// stampSec/stamp cache the "2006-01-02T15:04:05" of JSON timestamps.
	stampSec int64
	stamp    [19]byte
}

func newOutput(w io.Writer) *output {
	return &output{w: bufio.NewWriterSize(w, 256<<10)}
}

func (o *output) write(b []byte) {
	o.mu.Lock()
	o.w.Write(b)
	o.dirty = true
	o.mu.Unlock()
}

// err returns the first error writing the output met, if any.
func (o *output) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Flush()
}

func (o *output) flush() {
	o.mu.Lock()
	if o.dirty {
		o.w.Flush()
		o.dirty = false
	}
	o.mu.Unlock()
}

// appendClock appends the wall clock as HH:MM:SS.
func (o *output) appendClock(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	o.mu.Lock()
	if sec != o.lastSec {
		o.lastSec = sec
		copy(o.clock[:], now.Format("15:04:05"))
	}
	c := o.clock
	o.mu.Unlock()
	return append(dst, c[:]...)
}

// appendStamp appends now in UTC as RFC 3339 with nanoseconds,
// 2006-01-02T15:04:05.123456789Z: what -j events carry.
func (o *output) appendStamp(dst []byte, now time.Time) []byte {
	now = now.UTC()
	sec := now.Unix()
	o.mu.Lock()
	if sec != o.stampSec {
		o.stampSec = sec
		copy(o.stamp[:], now.Format("2006-01-02T15:04:05"))
	}
	s := o.stamp
	o.mu.Unlock()
	dst = append(dst, s[:]...)
	var frac [10]byte
	frac[0] = '.'
	ns := now.Nanosecond()
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	dst = append(dst, frac[:]...)
	return append(dst, 'Z')
}

// eventPrinter formats the records of one buffer map (or iterator).
type eventPrinter struct {
	name   string // "map NAME" or "iterator NAME", for messages
	dec    *decode.Decoder
	json   bool
	out    *output
	stacks *stackPrinter
	buf    []byte
	lost   atomic.Uint64
	count  atomic.Uint64
	// clock: text rows start with ecli's TIME column; not when the
	// struct has a member that prints as a TIME column of its own.
	clock bool
	// stampKey opens a JSON object with the timestamp key, `{"timestamp":"`;
	// nil when events are not JSON objects.
	stampKey []byte
	// short counts records shorter than the first member of their type.
	short atomic.Uint64
	// match passes the events --filter lets through (nil: all); none is
	// set when a filter names a member these events lack.
	match    *decode.Matcher
	none     bool
	filtered atomic.Uint64
	// quiet: count the records, print none (--quiet).
	quiet bool
	// buffer names the map for --metrics; lostCount reads its lost
	// records (nil for ring buffers, which lose none on this side).
	buffer    string
	lostCount func() uint64
}

// stampKey is the key of the timestamp -j adds to each event:
// "timestamp", or, when the struct has a member of that name,
// "_timestamp" (and so on, one more underscore at a time).
func stampKey(dec *decode.Decoder) string {
	key := "timestamp"
	for dec != nil && dec.HasMember(key) {
		key = "_" + key
	}
	return key
}

// hasTimeColumn reports whether the decoder prints a TIME column of its
// own (a member named time).
func hasTimeColumn(dec *decode.Decoder) bool {
	for _, c := range dec.Columns() {
		if c.Name == "TIME" {
			return true
		}
	}
	return false
}

// print formats one record. Records shorter than their type print as far
// as they go; those shorter than even the first member are counted.
func (p *eventPrinter) print(data []byte) {
	if p.quiet {
		p.count.Add(1)
		return
	}
	if p.none || p.match != nil && !p.match.Match(data) {
		p.filtered.Add(1)
		return
	}
	b := p.buf[:0]
	if p.dec != nil && len(data) < p.dec.MinSize() {
		p.short.Add(1)
	}
	switch {
	case p.dec == nil:
		b = p.appendRaw(b, data)
	case p.json:
		mark := -1
		if p.stampKey != nil {
			b = append(b, p.stampKey...)
			b = p.out.appendStamp(b, time.Now())
			b = append(b, '"')
			mark = len(b)
		}
		b, _ = p.dec.AppendJSON(b, data)
		if mark >= 0 {
			b = spliceObject(b, mark)
		}
		if p.stacks != nil {
			b = p.stacks.appendJSON(b, data)
		}
	default:
		if p.clock {
			b = p.out.appendClock(b, time.Now())
			b = append(b, ' ')
		}
		b, _ = p.dec.AppendText(b, data)
		if p.stacks != nil {
			b = p.stacks.appendText(b, data)
		}
	}
	b = append(b, '\n')
	p.out.write(b)
	p.buf = b
	p.count.Add(1)
}

// spliceObject joins the JSON object that starts at b[mark] to the keys
// before it: `{"timestamp":"…"` + `{"pid":1}` → `{"timestamp":"…","pid":1}`.
func spliceObject(b []byte, mark int) []byte {
	switch {
	case mark+1 < len(b) && b[mark] == '{' && b[mark+1] == '}':
		b[mark] = '}'
		return b[:mark+1]
	case mark < len(b) && b[mark] == '{':
		b[mark] = ','
	}
	return b
}

// newEventPrinter prepares the printing of records of type t (nil: hex)
// and, for text, prints the header.
func (r *runner) newEventPrinter(what string, t btf.Type) (*eventPrinter, error) {
	p := &eventPrinter{name: what, json: r.o.JSON, out: r.out, clock: true, quiet: r.quiet}
	if t == nil {
		if p.json {
			p.stampKey = []byte(`{"timestamp":"`)
		}
		return p, nil
	}
	dec, err := newDecoder(&r.pkg.Meta, r.spec.ByteOrder, r.o.Stderr, what, t)
	if err != nil {
		return nil, err
	}
	if r.stacks == nil {
		r.stacks = newStackPrinterFactory(r)
	}
	p.stacks = r.stacks.forType(t)
	var hidden, stacks []string
	if p.stacks != nil {
		hidden = append(append(hidden, p.stacks.raw...), p.stacks.lens...)
		for _, sf := range p.stacks.fields {
			stacks = append(stacks, sf.member)
		}
	}
	if r.views == nil {
		r.views = &eventViews{}
	}
	v, err := r.views.view(dec, hidden, stacks, r.o.JSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	p.dec, p.match, p.none = v.dec, v.match, v.none
	p.stacks = p.stacks.only(v.keep)
	switch btf.UnderlyingType(t).(type) {
	case *btf.Struct, *btf.Union:
		if v.stamp {
			p.stampKey = []byte(`{"` + stampKey(dec) + `":"`)
		}
	}
	p.clock = v.stamp && !hasTimeColumn(p.dec)
	if !r.o.JSON {
		// The header comes at once, as BCC's tools print it: it
		// also tells the user the probe is running.
		var h []byte
		if p.clock {
			h = append(h, "TIME     "...)
		}
		h = p.dec.AppendHeader(h)
		r.out.write(append(h, '\n'))
		r.out.flush()
	}
	r.after = append(r.after, func() {
		if n := p.short.Load(); n > 0 {
			records := "records were"
			if n == 1 {
				records = "record was"
			}
			fmt.Fprintf(r.o.Stderr, "ecli: warning: %s: %d %s shorter than the first member of %v (%d bytes), printed as far as they go\n",
				what, n, records, t, p.dec.MinSize())
		}
	})
	return p, nil
}

// exportType finds the struct that events of a buffer map carry: the map's
// export_type (ecc), its export_config btf_type_id when the package enables
// multiple export types (eunomia), else the one export type, else the one
// its programs submit (progscan.Bind).
func exportType(m *packager.Meta, spec *ebpf.CollectionSpec, scan *progscan.Result, mapName string) (btf.Type, error) {
	name := ""
	mm := m.BpfSkel.Map(mapName)
	if mm != nil && mm.ExportType != "" {
		name = mm.ExportType
	} else if mm != nil && m.EnableMultipleExportTypes && len(mm.ExportConfig) > 0 {
		var cfg struct {
			ID *btf.TypeID `json:"btf_type_id"`
		}
		if json.Unmarshal(mm.ExportConfig, &cfg) == nil && cfg.ID != nil {
			t, err := spec.Types.TypeByID(*cfg.ID)
			if err != nil {
				return nil, fmt.Errorf("map %s: export_config names BTF type %d: %w", mapName, *cfg.ID, err)
			}
			return t, nil
		}
	}
	if name == "" && len(m.ExportTypes) == 1 {
		name = m.ExportTypes[0].Name
	}
	if name == "" && len(m.ExportTypes) > 1 {
		// Packages that do not bind their buffers (eunomia's, with several
		// export types): the struct the programs submit, as ecc build
		// binds them.
		var structs []*btf.Struct
		for _, et := range m.ExportTypes {
			var st *btf.Struct
			if spec.Types.TypeByName(et.Name, &st) == nil {
				structs = append(structs, st)
			}
		}
		if b := progscan.Bind(scan.Maps[mapName], structs); b.Struct != nil {
			return b.Struct, nil
		}
		name = m.ExportTypes[0].Name
	}
	if name == "" {
		return nil, nil
	}
	var st *btf.Struct
	if err := spec.Types.TypeByName(name, &st); err != nil {
		return nil, fmt.Errorf("export type struct %s of map %s is not in the object's BTF: %w", name, mapName, err)
	}
	return st, nil
}

// startOutputs starts a reader per ring buffer and perf event array, a
// sampler per @sample map, and prints iterators.
func (r *runner) startOutputs() error {
	r.out = newOutput(r.o.Stdout)
	r.failed = make(chan error, 1)
	meta := &r.pkg.Meta
	r.intervalsDone = make(chan struct{})
	if r.scan == nil {
		r.scan = progscan.Scan(r.spec)
	}
	for _, name := range sortedMaps(r.spec) {
		ms := r.spec.Maps[name]
		m := r.maps[name]
		if m == nil || (ms.Type != ebpf.RingBuf && ms.Type != ebpf.PerfEventArray) {
			continue
		}
		t, err := exportType(meta, r.spec, r.scan, name)
		if err != nil {
			return err
		}
		if t == nil {
			fmt.Fprintf(r.o.Stderr, "ecli: note: map %s carries no export type, so its events are printed as hex; bind one with ECC_EXPORT(%s, struct ...) or an export header\n", name, name)
		}
		p, err := r.newEventPrinter("map "+name, t)
		if err != nil {
			return err
		}
		p.buffer = name
		if ms.Type == ebpf.PerfEventArray {
			p.lostCount = p.lost.Load
		}
		r.printers = append(r.printers, p)
		if r.o.Verbose {
			r.after = append(r.after, func() {
				filtered := ""
				if len(r.o.Filters) > 0 {
					filtered = fmt.Sprintf(", %d left out by --filter", p.filtered.Load())
				}
				fmt.Fprintf(r.o.Stderr, "ecli: map %s: %d events, %d lost%s\n", name, p.count.Load(), p.lost.Load(), filtered)
			})
		}
		if err := r.startReader(m, ms, p); err != nil {
			return err
		}
	}
	if err := r.startSamplers(); err != nil {
		return err
	}
	r.startResults(r.scan)
	if err := r.startMetrics(); err != nil {
		return err
	}
	r.startPrintk()
	r.startInterval()
	r.printIters()
	// Flush on a ticker: prompt on a terminal, cheap under load.
	interval := time.Duration(meta.PollTimeoutMs) * time.Millisecond
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	r.every(interval, r.out.flush)
	return nil
}

// every runs f on a ticker until the run stops.
func (r *runner) every(d time.Duration, f func()) {
	if r.stop == nil {
		r.stop = make(chan struct{})
	}
	stop := r.stop
	t := time.NewTicker(d)
	r.tickerWG.Add(1)
	go func() {
		defer r.tickerWG.Done()
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f()
			case <-stop:
				return
			}
		}
	}()
}

func (r *runner) fail(err error) {
	select {
	case r.failed <- err:
	default:
	}
}

// bufReader reads one ring buffer or perf event array.
type bufReader struct {
	flush, close func() error
}

func (r *runner) startReader(m *ebpf.Map, ms *ebpf.MapSpec, p *eventPrinter) error {
	done := func(err error, closed, flushed error) bool {
		if err == nil {
			return false
		}
		if !errors.Is(err, closed) && !errors.Is(err, flushed) && !errors.Is(err, os.ErrClosed) {
			r.fail(fmt.Errorf("map %s: %w", ms.Name, err))
		}
		return true
	}
	switch ms.Type {
	case ebpf.RingBuf:
		rd, err := ringbuf.NewReader(m)
		if err != nil {
			return fmt.Errorf("map %s: ring buffer reader: %w", ms.Name, err)
		}
		r.readers = append(r.readers, &bufReader{flush: rd.Flush, close: rd.Close})
		r.readersWG.Add(1)
		go func() {
			defer r.readersWG.Done()
			var rec ringbuf.Record
			for {
				if done(rd.ReadInto(&rec), ringbuf.ErrClosed, ringbuf.ErrFlushed) {
					return
				}
				p.print(rec.RawSample)
				// The ring is drained: show what arrived now rather than at
				// the next tick. Under load the ring is rarely empty, so
				// output still goes out in large writes.
				if rd.AvailableBytes() == 0 {
					r.out.flush()
				}
			}
		}()
	case ebpf.PerfEventArray:
		pages := r.pkg.Meta.PerfBufferPages
		if pages <= 0 {
			pages = packager.DefaultPerfBufferPages
		}
		rd, err := perf.NewReader(m, pages*os.Getpagesize())
		if err != nil {
			return fmt.Errorf("map %s: perf buffer reader: %w", ms.Name, err)
		}
		r.readers = append(r.readers, &bufReader{flush: rd.Flush, close: rd.Close})
		r.after = append(r.after, func() {
			if n := p.lost.Load(); n > 0 {
				fmt.Fprintf(r.o.Stderr, "ecli: lost %d events of map %s (the perf buffer was full; raise perf_buffer_pages or filter more)\n", n, ms.Name)
			}
		})
		r.readersWG.Add(1)
		go func() {
			defer r.readersWG.Done()
			var rec perf.Record
			lastWarn := time.Now()
			for {
				if done(rd.ReadInto(&rec), perf.ErrClosed, perf.ErrFlushed) {
					return
				}
				if rec.LostSamples > 0 {
					n := p.lost.Add(rec.LostSamples)
					if time.Since(lastWarn) > time.Second {
						lastWarn = time.Now()
						fmt.Fprintf(r.o.Stderr, "ecli: warning: %d events of map %s lost so far\n", n, ms.Name)
					}
					continue
				}
				p.print(rec.RawSample)
			}
		}()
	}
	return nil
}

// finish stops the readers and prints what remains.
func (r *runner) finish() error {
	r.close()
	return nil
}

// printIters prints what each iterator writes: records of an export type
// when the program writes them with bpf_seq_write (see iterRecordType),
// as events are printed; its text as it is otherwise.
func (r *runner) printIters() {
	for _, it := range r.iters {
		opener, ok := it.link.(interface {
			Open() (io.ReadCloser, error)
		})
		if !ok {
			continue
		}
		rc, err := opener.Open()
		if err != nil {
			fmt.Fprintf(r.o.Stderr, "ecli: warning: read iterator %s: %v\n", it.name, err)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			fmt.Fprintf(r.o.Stderr, "ecli: warning: read iterator %s: %v\n", it.name, err)
		}
		t, err := iterRecordType(&r.pkg.Meta, r.spec, it.name)
		if err != nil {
			fmt.Fprintf(r.o.Stderr, "ecli: warning: iterator %s: %v; printing its output as text\n", it.name, err)
		}
		if t != nil {
			p, err := r.newEventPrinter("iterator "+it.name, t)
			if err == nil {
				size := p.dec.Size()
				// Consecutive records; a partial one at the end prints as
				// far as it goes.
				for off := 0; off < len(data); off += size {
					p.print(data[off:min(off+size, len(data))])
				}
				continue
			}
			fmt.Fprintf(r.o.Stderr, "ecli: warning: %v; printing its output as text\n", err)
		}
		if r.o.JSON {
			line, _ := json.Marshal(map[string]string{"iter": it.name, "output": string(data)})
			r.out.write(append(line, '\n'))
		} else {
			r.out.write(data)
		}
	}
}

// appendRaw prints an event of unknown type as hex.
func (p *eventPrinter) appendRaw(b, data []byte) []byte {
	if p.json {
		b = append(b, p.stampKey...)
		b = p.out.appendStamp(b, time.Now())
		b = append(b, `","size":`...)
		b = strconv.AppendInt(b, int64(len(data)), 10)
		b = append(b, `,"data":"`...)
		b = hex.AppendEncode(b, data)
		return append(b, `"}`...)
	}
	b = p.out.appendClock(b, time.Now())
	b = append(b, ' ')
	return hex.AppendEncode(b, data)
}

func sortedMaps(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Maps))
	for n := range spec.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

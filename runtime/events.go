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

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/progscan"
	"github.com/ecc-bpf/ecc/runtime/decode"
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

// eventPrinter formats the records of one buffer map.
type eventPrinter struct {
	name   string
	dec    *decode.Decoder
	json   bool
	out    *output
	stacks *stackPrinter
	buf    []byte
	lost   atomic.Uint64
	count  atomic.Uint64
}

func (p *eventPrinter) print(data []byte) error {
	b := p.buf[:0]
	var err error
	if p.dec == nil {
		b = p.appendRaw(b, data)
	} else if p.json {
		b, err = p.dec.AppendJSON(b, data)
		if err == nil && p.stacks != nil {
			b = p.stacks.appendJSON(b, data)
		}
	} else {
		b = p.out.appendClock(b, time.Now())
		b = append(b, ' ')
		b, err = p.dec.AppendText(b, data)
		if err == nil && p.stacks != nil {
			b = p.stacks.appendText(b, data)
		}
	}
	if err != nil {
		return fmt.Errorf("map %s: decode event: %w", p.name, err)
	}
	b = append(b, '\n')
	p.out.write(b)
	p.buf = b
	p.count.Add(1)
	return nil
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
	meta := &r.src.Package.Meta
	r.intervalsDone = make(chan struct{})
	r.scan = progscan.Scan(r.spec)
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
		p := &eventPrinter{name: name, json: r.o.JSON, out: r.out}
		if t == nil {
			fmt.Fprintf(r.o.Stderr, "ecli: note: map %s carries no export type, so its events are printed as hex; bind one with ECC_EXPORT(%s, struct ...) or an export header\n", name, name)
		} else {
			if p.dec, err = decode.New(t, &decode.Options{ByteOrder: r.spec.ByteOrder}); err != nil {
				return fmt.Errorf("map %s: %w", name, err)
			}
			if r.stacks == nil {
				r.stacks = newStackPrinterFactory(r)
			}
			p.stacks = r.stacks.forType(t)
			if p.stacks != nil && !r.o.JSON {
				p.dec = p.dec.WithoutColumns(p.stacks.raw...)
			}
			if !r.o.JSON {
				// The header comes at once, as BCC's tools print it: it
				// also tells the user the probe is running.
				h := p.dec.AppendHeader([]byte("TIME     "))
				r.out.write(append(h, '\n'))
				r.out.flush()
			}
		}
		if r.o.Verbose {
			r.after = append(r.after, func() {
				fmt.Fprintf(r.o.Stderr, "ecli: map %s: %d events, %d lost\n", name, p.count.Load(), p.lost.Load())
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
				if err := p.print(rec.RawSample); err != nil {
					r.fail(err)
					return
				}
				// The ring is drained: show what arrived now rather than at
				// the next tick. Under load the ring is rarely empty, so
				// output still goes out in large writes.
				if rd.AvailableBytes() == 0 {
					r.out.flush()
				}
			}
		}()
	case ebpf.PerfEventArray:
		pages := r.src.Package.Meta.PerfBufferPages
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
				if err := p.print(rec.RawSample); err != nil {
					r.fail(err)
					return
				}
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
		b = append(b, `{"size":`...)
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

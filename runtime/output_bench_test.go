package runtime

import (
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/runtime/metrics"
)

// benchOpenEvent is struct open_event (output_test.go) and one event.
func benchOpenEvent(tb testing.TB) (*decode.Decoder, []byte) {
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	str := func(n uint32) *btf.Array { return &btf.Array{Index: u32, Type: char, Nelems: n} }
	t := &btf.Struct{Name: "open_event", Size: 92, Members: []btf.Member{
		{Name: "pid", Type: i32, Offset: 0},
		{Name: "comm", Type: str(16), Offset: 4 * 8},
		{Name: "flags", Type: u32, Offset: 20 * 8},
		{Name: "mode", Type: u32, Offset: 24 * 8},
		{Name: "fname", Type: str(64), Offset: 28 * 8},
	}}
	dec, err := decode.New(t, &decode.Options{Formats: map[string]map[string]decode.Format{"open_event": {"flags": decode.FormatHex, "mode": decode.FormatHex}}})
	if err != nil {
		tb.Fatal(err)
	}
	data := make([]byte, 92)
	binary.LittleEndian.PutUint32(data, 4242)
	copy(data[4:], "systemd-journal")
	binary.LittleEndian.PutUint32(data[20:], 0x80241)
	binary.LittleEndian.PutUint32(data[24:], 0o640)
	copy(data[28:], "/usr/lib/x86_64-linux-gnu/libc.so.6")
	return dec, data
}

// benchPrint measures eventPrinter.print, the path of every event from
// the ring buffer to the output buffer, with --fields and --filter:
// ns/op is ns per event.
func benchPrint(b *testing.B, json bool, fields, filters []string) {
	dec, data := benchOpenEvent(b)
	v := &eventViews{}
	for _, f := range fields {
		if f[0] == '+' || f[0] == '-' {
			b.Fatal("absolute fields only")
		}
		v.names = append(v.names, f)
	}
	for _, s := range filters {
		f, err := decode.ParseFilter(s)
		if err != nil {
			b.Fatal(err)
		}
		v.filters = append(v.filters, f)
	}
	ev, err := v.view(dec, nil, nil, json)
	if err != nil {
		b.Fatal(err)
	}
	p := &eventPrinter{dec: ev.dec, match: ev.match, none: ev.none, json: json, out: newOutput(io.Discard), clock: ev.stamp}
	if json && ev.stamp {
		p.stampKey = []byte(`{"timestamp":"`)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.print(data)
	}
}

func BenchmarkPrintText(b *testing.B) { benchPrint(b, false, nil, nil) }
func BenchmarkPrintJSON(b *testing.B) { benchPrint(b, true, nil, nil) }

// An event that passes a number and a string filter, and prints.
func BenchmarkPrintFilteredPassJSON(b *testing.B) {
	benchPrint(b, true, nil, []string{"pid==4242", "comm==systemd-journal"})
}

// An event a regular expression drops before it is formatted.
func BenchmarkPrintFilteredDropJSON(b *testing.B) {
	benchPrint(b, true, nil, []string{"fname~^/etc/"})
}

func BenchmarkPrintFieldsJSON(b *testing.B) {
	benchPrint(b, true, []string{"pid", "fname"}, nil)
}

func BenchmarkPrintFieldsFilteredText(b *testing.B) {
	benchPrint(b, false, []string{"pid", "flags", "fname"}, []string{"flags!=0", "fname~libc"})
}

// With --metrics, events cost what they cost without: ecli_events_total
// reads the counter print keeps anyway. A scraper reads it every
// millisecond meanwhile, far more often than Prometheus does.
func BenchmarkPrintJSONMetrics(b *testing.B) {
	dec, data := benchOpenEvent(b)
	p := &eventPrinter{dec: dec, json: true, out: newOutput(io.Discard), clock: true, stampKey: []byte(`{"timestamp":"`), buffer: "events"}
	set := metrics.NewSet(0)
	set.AddBuffer(p.buffer, func() uint64 { return p.count.Load() + p.filtered.Load() }, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				reg.Gather()
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		p.print(data)
	}
}

// --quiet: each event is counted, not formatted.
func BenchmarkPrintQuiet(b *testing.B) {
	dec, data := benchOpenEvent(b)
	p := &eventPrinter{dec: dec, json: true, out: newOutput(io.Discard), quiet: true}
	b.ReportAllocs()
	for b.Loop() {
		p.print(data)
	}
}

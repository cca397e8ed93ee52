package decode

import (
	"testing"

	"github.com/cilium/ebpf/btf"
)

// benchEvent returns a decoder for a typical 128-byte event, as a file
// open tracer sends it, and one such event.
func benchEvent(tb testing.TB) (*Decoder, []byte) {
	tb.Helper()
	op := &btf.Enum{Name: "op", Size: 4, Values: []btf.EnumValue{
		{Name: "OP_OPEN", Value: 0}, {Name: "OP_OPENAT", Value: 1}, {Name: "OP_OPENAT2", Value: 2},
	}}
	typ := st("event", 128,
		mem("ts", tU64, 0),
		mem("pid", tPid, 8),
		mem("tid", tPid, 12),
		mem("uid", tU32, 16),
		mem("ret", tInt, 20),
		mem("comm", arr(tChar, 16), 24),
		mem("fname", arr(tChar, 80), 40),
		mem("flags", tU8, 120),
		mem("is_dir", tBool, 121),
		mem("mode", &btf.Typedef{Name: "__u16", Type: tUShort}, 122),
		mem("op", op, 124))
	d, err := New(typ, nil)
	if err != nil {
		tb.Fatal(err)
	}
	data := le{}.u64(1234567890123456).u32(4242).u32(4243).u32(1000).u32(3).
		str("systemd-journal", 16).
		str("/usr/lib/x86_64-linux-gnu/libc.so.6", 80).
		u8(0x41).u8(0).u16(0o644).u32(1)
	if len(data) != 128 || d.Size() != 128 {
		tb.Fatalf("event of %d bytes, decoder for %d", len(data), d.Size())
	}
	return d, data
}

func BenchmarkAppendJSON(b *testing.B) {
	d, data := benchEvent(b)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = d.AppendJSON(buf[:0], data)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendText(b *testing.B) {
	d, data := benchEvent(b)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = d.AppendText(buf[:0], data)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		benchEvent(b)
	}
}

// BenchmarkAppendNet decodes libbpf-tools' tcpconnect event: an address
// pair selected by af, as JSON and text.
func BenchmarkAppendNet(b *testing.B) {
	d, err := New(tcpconnect(), nil)
	if err != nil {
		b.Fatal(err)
	}
	data := le{}.ip("2001:db8::1").ip("fe80::1:2").str("curl", 16).u32(afInet6).u32(42)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = d.AppendJSON(buf[:0], data)
		buf, _ = d.AppendText(buf[:0], data)
	}
}

// BenchmarkAppendShort decodes execsnoop's variable-length records.
func BenchmarkAppendShort(b *testing.B) {
	d, err := New(execsnoop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	data := append(le{}.u32(1234).u32(1).u32(0).u32(0).u32(2).u32(6).str("ls", 16), "ls\x00-l\x00"...)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = d.AppendJSON(buf[:0], data)
		buf, _ = d.AppendText(buf[:0], data)
	}
}

// BenchmarkMatch compares a number, a string and a regular expression
// against the typical event: the cost --filter adds to each event.
func BenchmarkMatch(b *testing.B) {
	d, data := benchEvent(b)
	var fs []Filter
	for _, s := range []string{"pid==4242", "comm==systemd-journal", "fname~libc"} {
		f, err := ParseFilter(s)
		if err != nil {
			b.Fatal(err)
		}
		fs = append(fs, f)
	}
	for i := range fs {
		m, err := d.NewMatcher(fs[i : i+1])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fs[i].Field, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !m.Match(data) {
					b.Fatal("no match")
				}
			}
		})
	}
}

package runtime

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/packager"
)

func TestSeqWrites(t *testing.T) {
	call := func(fn asm.BuiltinFunc) asm.Instruction { return fn.Call() }
	for _, c := range []struct {
		name   string
		insns  asm.Instructions
		binary bool
		sizes  []int64
	}{
		{"write", asm.Instructions{asm.Mov.Imm(asm.R3, 20), asm.Mov.Reg(asm.R2, asm.R10), call(asm.FnSeqWrite)}, true, []int64{20}},
		{"alu32 size", asm.Instructions{asm.Mov.Imm32(asm.R3, 24), call(asm.FnSeqWrite), asm.Return()}, true, []int64{24}},
		// A store through R3 does not set it; the move before does.
		{"store", asm.Instructions{asm.Mov.Imm(asm.R3, 8), asm.StoreMem(asm.R3, 0, asm.R1, asm.Word), call(asm.FnSeqWrite)}, true, []int64{8}},
		{"size from a register", asm.Instructions{asm.Mov.Reg(asm.R3, asm.R6), call(asm.FnSeqWrite)}, true, nil},
		{"size before a call", asm.Instructions{asm.Mov.Imm(asm.R3, 8), call(asm.FnKtimeGetNs), call(asm.FnSeqWrite)}, true, nil},
		{"printf", asm.Instructions{call(asm.FnSeqPrintf)}, false, nil},
		{"printf and write", asm.Instructions{asm.Mov.Imm(asm.R3, 8), call(asm.FnSeqWrite), call(asm.FnSeqPrintf)}, false, []int64{8}},
		{"nothing", asm.Instructions{asm.Return()}, false, nil},
	} {
		binary, sizes := seqWrites(c.insns)
		if binary != c.binary || len(sizes) != len(c.sizes) || len(sizes) > 0 && sizes[0] != c.sizes[0] {
			t.Errorf("%s: %v %v, want %v %v", c.name, binary, sizes, c.binary, c.sizes)
		}
	}
}

func TestIterRecordType(t *testing.T) {
	a := &btf.Struct{Name: "a", Size: 8, Members: []btf.Member{{Name: "x", Type: &btf.Int{Name: "long", Size: 8}}}}
	b := &btf.Struct{Name: "b", Size: 20, Members: []btf.Member{{Name: "y", Type: &btf.Array{Index: &btf.Int{Name: "int", Size: 4}, Type: &btf.Int{Name: "char", Size: 1}, Nelems: 20}}}}
	var bb btf.Builder
	for _, ty := range []btf.Type{a, b} {
		if _, err := bb.Add(ty); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := bb.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	types, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	prog := func(insns ...asm.Instruction) *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{Types: types, Programs: map[string]*ebpf.ProgramSpec{"it": {Instructions: insns}}}
	}
	both := &packager.Meta{ExportTypes: []packager.ExportType{{Name: "a", Size: 8}, {Name: "b", Size: 20}}}
	one := &packager.Meta{ExportTypes: []packager.ExportType{{Name: "b", Size: 20}}}
	for _, c := range []struct {
		name string
		m    *packager.Meta
		spec *ebpf.CollectionSpec
		want string
	}{
		{"by size", both, prog(asm.Mov.Imm(asm.R3, 20), asm.FnSeqWrite.Call()), "b"},
		{"by size, other", both, prog(asm.Mov.Imm(asm.R3, 8), asm.FnSeqWrite.Call()), "a"},
		{"the only one", one, prog(asm.Mov.Reg(asm.R3, asm.R7), asm.FnSeqWrite.Call()), "b"},
		{"no size, several", both, prog(asm.Mov.Reg(asm.R3, asm.R7), asm.FnSeqWrite.Call()), ""},
		{"size of none", one, prog(asm.Mov.Imm(asm.R3, 12), asm.FnSeqWrite.Call()), ""},
		{"text", one, prog(asm.FnSeqPrintf.Call()), ""},
	} {
		typ, err := iterRecordType(c.m, c.spec, "it")
		got := ""
		if typ != nil {
			got = typ.TypeName()
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestStampKeyAndTimeColumn(t *testing.T) {
	u64 := &btf.Int{Name: "unsigned long", Size: 8}
	mk := func(names ...string) *decode.Decoder {
		st := &btf.Struct{Name: "e", Size: uint32(8 * len(names))}
		for i, n := range names {
			st.Members = append(st.Members, btf.Member{Name: n, Type: u64, Offset: btf.Bits(64 * i)})
		}
		d, err := decode.New(st, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		names []string
		key   string
		time  bool
	}{
		{[]string{"pid"}, "timestamp", false},
		{[]string{"timestamp", "pid"}, "_timestamp", false},
		{[]string{"timestamp", "_timestamp"}, "__timestamp", false},
		{[]string{"time", "pid"}, "timestamp", true},
		{[]string{"ts"}, "timestamp", false},
	} {
		d := mk(c.names...)
		if k := stampKey(d); k != c.key {
			t.Errorf("%v: key %q, want %q", c.names, k, c.key)
		}
		if got := hasTimeColumn(d); got != c.time {
			t.Errorf("%v: time column %v", c.names, got)
		}
	}
}

func TestStampAndSplice(t *testing.T) {
	o := newOutput(&bytes.Buffer{})
	at := time.Date(2025, 3, 4, 5, 6, 7, 89, time.FixedZone("x", 3600))
	got := string(o.appendStamp(nil, at))
	if got != "2025-03-04T04:06:07.000000089Z" {
		t.Errorf("stamp %s", got)
	}
	if back, err := time.Parse(time.RFC3339Nano, got); err != nil || !back.Equal(at) {
		t.Errorf("stamp reads back as %v, %v", back, err)
	}
	for _, c := range [][2]string{
		{`{"pid":1}`, `{"timestamp":"T","pid":1}`},
		{`{}`, `{"timestamp":"T"}`},
	} {
		b := []byte(`{"timestamp":"T"`)
		mark := len(b)
		b = append(b, c[0]...)
		if got := string(spliceObject(b, mark)); got != c[1] {
			t.Errorf("splice %s: %s", c[0], got)
		}
	}
}

func TestDecodeOptions(t *testing.T) {
	m := &packager.Meta{ExportTypes: []packager.ExportType{{Name: "event", Members: []packager.ExportMember{
		{Name: "saddr", Format: "ipv4"},
		{Name: "", Members: []packager.ExportMember{{Name: "a6", Format: "ipv6"}, {Name: "x"}}},
		{Name: "odd", Format: "ipv9"},
	}}}}
	var warn bytes.Buffer
	o := decodeOptions(m, nil, &warn)
	want := map[string]decode.Format{"saddr": decode.FormatIPv4, "a6": decode.FormatIPv6}
	if len(o.Formats["event"]) != len(want) {
		t.Errorf("formats %v", o.Formats)
	}
	for k, v := range want {
		if o.Formats["event"][k] != v {
			t.Errorf("format of %s: %q", k, o.Formats["event"][k])
		}
	}
	if !strings.Contains(warn.String(), `struct event member odd: unknown format "ipv9"`) {
		t.Errorf("warning %q", warn.String())
	}
}

// newTestRunner is a runner with what newEventPrinter needs.
func newTestRunner(json bool) (*runner, *bytes.Buffer, *bytes.Buffer) {
	var out, errs bytes.Buffer
	r := &runner{
		o:    &Options{JSON: json, Stdout: &out, Stderr: &errs},
		pkg:  &packager.Package{},
		spec: &ebpf.CollectionSpec{},
	}
	r.out = newOutput(&out)
	return r, &out, &errs
}

// Records shorter than their type print as far as they go; those shorter
// than the first member too, counted and reported once at the end.
func TestPrinterShortRecords(t *testing.T) {
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	ev := &btf.Struct{Name: "event", Size: 24, Members: []btf.Member{
		{Name: "ts", Type: u64},
		{Name: "comm", Type: &btf.Array{Index: u64, Type: &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}, Nelems: 16}, Offset: 64},
	}}
	r, out, errs := newTestRunner(true)
	p, err := r.newEventPrinter("map events", ev)
	if err != nil {
		t.Fatal(err)
	}
	p.print([]byte{1, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'})
	p.print([]byte{1, 2})
	p.print(nil)
	p.print(append([]byte{2, 0, 0, 0, 0, 0, 0, 0}, "full record\x00\x00\x00\x00\x00"...))
	r.out.flush()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{`,"ts":1,"comm":"ab"}`, `"}`, `"}`, `,"ts":2,"comm":"full record"}`}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"timestamp":"`) || !strings.HasSuffix(l, want[i]) {
			t.Errorf("line %d: %s, want …%s", i, l, want[i])
		}
	}
	for _, f := range r.after {
		f()
	}
	if got := errs.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "map events: 2 records were shorter than the first member of") || !strings.Contains(got, "(8 bytes)") {
		t.Errorf("stderr %q", got)
	}

	// Text: a member named time is the TIME column; else ecli's clock.
	for _, c := range []struct {
		member, header string
		clock          bool
	}{{"time", "            TIME COMM", false}, {"ts", "TIME                   TS COMM", true}} {
		st := *ev
		st.Members = append([]btf.Member(nil), ev.Members...)
		st.Members[0].Name = c.member
		r, out, _ := newTestRunner(false)
		p, err := r.newEventPrinter("map events", &st)
		if err != nil {
			t.Fatal(err)
		}
		p.print(append([]byte{7, 0, 0, 0, 0, 0, 0, 0}, "x\x00"...))
		r.out.flush()
		lines := strings.Split(out.String(), "\n")
		if lines[0] != c.header {
			t.Errorf("%s: header %q, want %q", c.member, lines[0], c.header)
		}
		row := strings.Fields(lines[1])
		if c.clock && (len(row) != 3 || len(row[0]) != 8 || row[0][2] != ':') || !c.clock && strings.Join(row, " ") != "7 x" {
			t.Errorf("%s: row %q", c.member, lines[1])
		}
	}
}

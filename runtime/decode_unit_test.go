package runtime

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/decode"
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

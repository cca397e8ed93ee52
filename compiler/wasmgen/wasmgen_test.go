package wasmgen

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"event": "Event", "args_len": "ArgsLen", "__u64": "U64", "x86": "X86",
		"already_Camel": "AlreadyCamel", "9lives": "X9lives", "": "X",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"execsnoop": "execsnoop", "my-tool": "my_tool", "2x": "_2x"} {
		if got := CIdent(in); got != want {
			t.Errorf("CIdent(%q) = %q, want %q", in, got, want)
		}
	}
	if GoFileName("my-tool") != "my_tool_bpf_wasm.go" || CHeaderName("x") != "x.wasm.h" {
		t.Error("file names")
	}
}

var (
	u8  = &btf.Int{Name: "unsigned char", Size: 1}
	chr = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	s32 = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u32 = &btf.Int{Name: "unsigned int", Size: 4}
	u64 = &btf.Int{Name: "unsigned long", Size: 8}
)

func gen(t *testing.T, types ...btf.Type) (string, string) {
	t.Helper()
	b := &Bindings{Name: "t", Object: []byte{0x7f, 'E', 'L', 'F'}, Programs: []string{"p"}, Types: types}
	c, err := b.CHeader()
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.GoFile("main", "t.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	return string(c), string(g)
}

func has(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func TestNaturalLayout(t *testing.T) {
	ev := &btf.Struct{Name: "event", Size: 40, Members: []btf.Member{
		{Name: "pid", Type: s32, Offset: 0},
		{Name: "ts", Type: u64, Offset: 64},
		{Name: "ptr", Type: &btf.Pointer{Target: &btf.Void{}}, Offset: 128},
		{Name: "comm", Type: &btf.Array{Type: chr, Nelems: 16}, Offset: 192},
	}}
	c, g := gen(t, ev)
	// C pads only where wasm32 would not; Go always says where padding is.
	has(t, "C", c, "struct event {\n\ts32 pid;\n\tu64 ts;\n\tu64 ptr;\n\tchar comm[16];\n};",
		"_Static_assert(sizeof(struct event) == 40,",
		"_Static_assert(__builtin_offsetof(struct event, comm) == 24,",
		"_Static_assert(sizeof(((struct event *)0)->ts) == 8,",
		`static const char *const t_bpf_programs[] = {"p", NULL};`,
		"0x7f,0x45,0x4c,0x46,", "t_bpf_object_size = 4;", "#include <ecc_wasm.h>", "#ifndef ECC_WASM_OWN_TYPES")
	has(t, "Go", g, "Pid  int32\n\t_    [4]byte\n\tTs   uint64", "Comm [16]byte",
		"[unsafe.Sizeof(Event{})-40]", "[unsafe.Offsetof(Event{}.Ptr)-16]", "[unsafe.Sizeof(Event{}.Ts)-8]",
		"//go:embed t.bpf.o", `var bpfPrograms = []string{"p"}`, "_    structs.HostLayout")
}

func TestPackedAndAligned(t *testing.T) {
	packed := &btf.Struct{Name: "packed", Size: 13, Members: []btf.Member{
		{Name: "c", Type: chr, Offset: 0},
		{Name: "v", Type: u64, Offset: 8},
		{Name: "w", Type: u32, Offset: 72},
	}}
	aligned := &btf.Struct{Name: "aligned", Size: 32, Members: []btf.Member{
		{Name: "a", Type: s32, Offset: 0},
		{Name: "b", Type: s32, Offset: 128},
	}}
	outer := &btf.Struct{Name: "outer", Size: 20, Members: []btf.Member{
		{Name: "c", Type: u8, Offset: 0},
		{Name: "p", Type: packed, Offset: 8},
		{Name: "z", Type: s32, Offset: 128},
	}}
	c, g := gen(t, packed, aligned, outer)
	has(t, "C", c, "struct packed {\n\tchar c;\n\tu64 v;\n\tu32 w;\n} __attribute__((packed));",
		"struct aligned {\n\ts32 a;\n\tu8 __ecc_pad4[12];\n\ts32 b;\n\tu8 __ecc_pad20[12];\n};",
		"struct outer {\n\tu8 c;\n\tstruct packed p;\n\ts32 z;\n};")
	has(t, "Go", g, "V [8]byte // packed in C (unsigned long)", "W [4]byte // packed in C (unsigned int)",
		"[unsafe.Sizeof(Packed{})-13]", "[unsafe.Offsetof(Outer{}.Z)-16]")
	if strings.Index(c, "struct packed {") > strings.Index(c, "struct outer {") {
		t.Error("struct packed is declared after its user")
	}
}

func TestUnionsAndBitfields(t *testing.T) {
	un := &btf.Union{Name: "un", Size: 8, Members: []btf.Member{
		{Name: "i", Type: s32}, {Name: "l", Type: u64},
	}}
	st := &btf.Struct{Name: "bits", Size: 16, Members: []btf.Member{
		{Name: "flags", Type: u32, Offset: 0, BitfieldSize: 3},
		{Name: "mode", Type: u32, Offset: 3, BitfieldSize: 5},
		{Name: "sb", Type: s32, Offset: 8, BitfieldSize: 4},
		{Name: "", Type: &btf.Union{Size: 4, Members: []btf.Member{{Name: "x", Type: u32}, {Name: "y", Type: s32}}}, Offset: 32},
		{Name: "u", Type: un, Offset: 64},
	}}
	c, g := gen(t, st)
	has(t, "C", c, "union un {\n\ts32 i;\n\tu64 l;\n};", "\tu32 flags : 3;\n\tu32 mode : 5;\n\ts32 sb : 4;",
		"\tunion {\n\t\tu32 x;\n\t\ts32 y;\n\t};", "__builtin_offsetof(struct bits, y) == 4")
	has(t, "Go", g, "type Un [8]byte", "Bitfields [2]byte // C bitfields flags:3, mode:5, sb:4",
		"func (s *Bits) Sb() int32 {", "return int32(int64(v<<52) >> 60)", "return uint32(v >> 3 & (1<<5 - 1))",
		"Anon3     [4]byte", "[unsafe.Offsetof(Bits{}.U)-8]")
}

func TestLayoutErrors(t *testing.T) {
	st := &btf.Struct{Name: "bad", Size: 8, Members: []btf.Member{{Name: "f", Type: &btf.FuncProto{}, Offset: 0}}}
	b := &Bindings{Name: "t", Types: []btf.Type{st}}
	if _, err := b.CHeader(); err == nil || !strings.Contains(err.Error(), "struct bad.f") {
		t.Errorf("C: %v", err)
	}
	if _, err := b.GoFile("main", "t.bpf.o"); err == nil || !strings.Contains(err.Error(), "struct bad.f") {
		t.Errorf("Go: %v", err)
	}
}

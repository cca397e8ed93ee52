package meta

import (
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var (
	intT   = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	uintT  = &btf.Int{Name: "unsigned int", Size: 4}
	charT  = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u8T    = &btf.Int{Name: "unsigned char", Size: 1}
	boolT  = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	u64T   = &btf.Int{Name: "unsigned long long", Size: 8}
	s16T   = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	pidT   = &btf.Typedef{Name: "pid_t", Type: intT}
	event  = &btf.Struct{Name: "event", Size: 8, Members: []btf.Member{{Name: "pid", Type: intT}, {Name: "x", Type: uintT, Offset: 32}}}
	anonU  = &btf.Union{Size: 4, Members: []btf.Member{{Name: "a", Type: intT}}}
	colorE = &btf.Enum{Name: "color", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "RED", Value: 0}, {Name: "BLUE", Value: 2}}}
)

func TestTypeName(t *testing.T) {
	fn := &btf.FuncProto{Return: intT, Params: []btf.FuncParam{{Type: intT}, {Type: &btf.Pointer{Target: charT}}}}
	for _, c := range []struct {
		t    btf.Type
		want string
	}{
		{intT, "int"},
		{pidT, "pid_t"},
		{&btf.Array{Type: charT, Nelems: 16}, "char[16]"},
		{&btf.Array{Type: &btf.Array{Type: &btf.Array{Type: intT, Nelems: 4}, Nelems: 3}, Nelems: 2}, "int[2][3][4]"},
		{&btf.Pointer{Target: event}, "struct event *"},
		{&btf.Pointer{Target: &btf.Const{Type: charT}}, "const char *"},
		{&btf.Const{Type: &btf.Volatile{Type: intT}}, "const volatile int"},
		{&btf.Pointer{Target: fn}, "int (*)(int, char *)"},
		{&btf.Pointer{Target: &btf.Array{Type: intT, Nelems: 4}}, "int (*)[4]"},
		{&btf.Array{Type: &btf.Pointer{Target: charT}, Nelems: 2}, "char *[2]"},
		{anonU, "union"},
		{colorE, "enum color"},
		{&btf.Pointer{Target: &btf.Void{}}, "void *"},
		{&btf.Fwd{Name: "sock", Kind: btf.FwdStruct}, "struct sock"},
		{&btf.Float{Name: "double", Size: 8}, "double"},
	} {
		if got := TypeName(c.t); got != c.want {
			t.Errorf("TypeName(%v) = %q, want %q", c.t, got, c.want)
		}
	}
	if got := TypeName(StripQualifiers(&btf.Const{Type: &btf.Volatile{Type: pidT}})); got != "pid_t" {
		t.Errorf("StripQualifiers: %q", got)
	}
}

func TestValueJSON(t *testing.T) {
	le := binary.LittleEndian
	bits := &btf.Struct{Name: "bits", Size: 4, Members: []btf.Member{
		{Name: "lo", Type: uintT, BitfieldSize: 3},
		{Name: "neg", Type: intT, Offset: 3, BitfieldSize: 4},
		{Name: "hi", Type: uintT, Offset: 7, BitfieldSize: 25},
	}}
	for _, c := range []struct {
		t    btf.Type
		b    []byte
		want string
	}{
		{intT, []byte{0xff, 0xff, 0xff, 0xff}, "-1"},
		{uintT, []byte{0xff, 0xff, 0xff, 0xff}, "4294967295"},
		{s16T, []byte{0xfe, 0xff}, "-2"},
		{u64T, []byte{1, 0, 0, 0, 0, 0, 0, 0x80}, "9223372036854775809"},
		{pidT, []byte{42, 0, 0, 0}, "42"},
		{boolT, []byte{1}, "true"},
		{boolT, []byte{0}, "false"},
		{&btf.Array{Type: charT, Nelems: 8}, []byte("bash\x00zz\x00"), `"bash"`},
		{&btf.Array{Type: charT, Nelems: 3}, []byte{0xff, 'a', '"'}, "\"\uFFFDa\\\"\""},
		{&btf.Array{Type: u8T, Nelems: 3}, []byte{1, 2, 3}, "[1,2,3]"},
		{event, []byte{7, 0, 0, 0, 9, 0, 0, 0}, `{"pid":7,"x":9}`},
		{colorE, []byte{2, 0, 0, 0}, `"BLUE"`},
		{colorE, []byte{5, 0, 0, 0}, "5"},
		{&btf.Float{Name: "float", Size: 4}, []byte{0, 0, 0xc0, 0x3f}, "1.5"},
		{bits, []byte{0b0111_1101, 0b0000_0001, 0, 0}, `{"lo":5,"neg":-1,"hi":2}`},
	} {
		got, err := ValueJSON(c.t, c.b, le)
		if err != nil {
			t.Errorf("%v: %v", c.t, err)
			continue
		}
		if string(got) != c.want || !json.Valid(got) {
			t.Errorf("ValueJSON(%v, %v) = %s, want %s", c.t, c.b, got, c.want)
		}
	}
	if _, err := ValueJSON(u64T, []byte{1, 2}, le); err == nil {
		t.Error("short value: no error")
	}
}

func TestHeaderStructsIgnoresComments(t *testing.T) {
	if got := HeaderStructs([]byte("/* struct a { */ // struct b {\n")); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

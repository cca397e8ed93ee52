package ctype

import (
	"strings"
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
	cvChar := &btf.Const{Type: &btf.Volatile{Type: charT}}
	if got := VarTypeName(&btf.Array{Type: &btf.Array{Type: cvChar, Nelems: 8}, Nelems: 2}); got != "char[2][8]" {
		t.Errorf("VarTypeName of const volatile char[2][8]: %q", got)
	}
	if got := VarTypeName(&btf.Pointer{Target: cvChar}); got != "const volatile char *" {
		t.Errorf("VarTypeName keeps the pointee's qualifiers: %q", got)
	}
	if got := TypeName(btf.QualifiedType(&btf.Const{Type: &btf.Volatile{Type: pidT}})); got != "pid_t" {
		t.Errorf("QualifiedType: %q", got)
	}
}

func TestTypeNameCycle(t *testing.T) {
	p := &btf.Pointer{}
	p.Target = p
	if got := TypeName(p); !strings.HasPrefix(got, "? *") || !strings.HasSuffix(got, "**") {
		t.Errorf("a pointer to itself: %.40q...", got)
	}
	fn := &btf.FuncProto{Return: intT}
	fn.Params = []btf.FuncParam{{Type: &btf.Pointer{Target: fn}}, {Type: &btf.Pointer{Target: fn}}}
	if got := TypeName(fn); !strings.Contains(got, "?") {
		t.Errorf("a function taking pointers to itself: %.40q...", got)
	}
	a := &btf.Array{Nelems: 1}
	a.Type = a
	if got := VarTypeName(a); !strings.HasPrefix(got, "?[1]") {
		t.Errorf("an array of itself: %.40q...", got)
	}
}

func TestCharOf(t *testing.T) {
	for _, c := range []struct {
		t    btf.Type
		want Char
	}{
		{charT, PlainChar},
		{&btf.Const{Type: &btf.Volatile{Type: charT}}, PlainChar},
		{&btf.Int{Name: "char", Size: 1}, PlainChar},
		{&btf.Int{Name: "uchar", Size: 1, Encoding: btf.Char}, PlainChar},
		{u8T, UnsignedChar},
		{&btf.TypeTag{Value: "user", Type: u8T}, UnsignedChar},
		{&btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}, SignedChar},
		{&btf.Int{Name: "unsigned char", Size: 1, Encoding: btf.Signed}, SignedChar},
		{&btf.Typedef{Name: "__u8", Type: u8T}, NotChar},
		{&btf.Typedef{Name: "mychar", Type: charT}, NotChar},
		{boolT, NotChar},
		{&btf.Int{Name: "char", Size: 1, Encoding: btf.Bool}, NotChar},
		{s16T, NotChar},
		{&btf.Int{Name: "char", Size: 2}, NotChar},
		{&btf.Int{Name: "__u8", Size: 1}, NotChar},
		{&btf.Array{Type: charT, Nelems: 4}, NotChar},
		{nil, NotChar},
	} {
		if got := CharOf(c.t); got != c.want {
			t.Errorf("CharOf(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}

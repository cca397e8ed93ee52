package vmlinux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// Base types, shaped like those of kernel BTF.
var (
	tChar   = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	tU8     = &btf.Int{Name: "unsigned char", Size: 1}
	tU16    = &btf.Int{Name: "short unsigned int", Size: 2}
	tS32    = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	tU32    = &btf.Int{Name: "unsigned int", Size: 4}
	tLong   = &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	tU64    = &btf.Int{Name: "long long unsigned int", Size: 8}
	tBool   = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	tI128   = &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	tU128   = &btf.Int{Name: "__int128 unsigned", Size: 16}
	tFloat  = &btf.Float{Name: "float", Size: 4}
	tDouble = &btf.Float{Name: "double", Size: 8}
	tVoid   = &btf.Void{}
)

func ptr(t btf.Type) *btf.Pointer { return &btf.Pointer{Target: t} }

func arr(t btf.Type, n uint32) *btf.Array { return &btf.Array{Index: tU32, Type: t, Nelems: n} }

// mem builds a member at a byte offset.
func mem(name string, t btf.Type, byteOff uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(byteOff * 8)}
}

// bitfield builds a bitfield member at a bit offset.
func bitfield(name string, t btf.Type, bitOff, bits uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(bitOff), BitfieldSize: btf.Bits(bits)}
}

// generate marshals types (and everything they reference) to BTF, writes
// the header both from the resulting btf.Spec and from the raw bytes, and
// checks both paths agree.
func generate(t *testing.T, types ...btf.Type) string {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var fromSpec, fromRaw bytes.Buffer
	if err := Write(&fromSpec, spec, nil); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := WriteFromReader(&fromRaw, bytes.NewReader(raw), nil); err != nil {
		t.Fatalf("WriteFromReader: %v", err)
	}
	if fromSpec.String() != fromRaw.String() {
		t.Fatalf("Write and WriteFromReader differ:\n--- Write\n%s\n--- WriteFromReader\n%s", fromSpec.String(), fromRaw.String())
	}
	// Determinism.
	var again bytes.Buffer
	if err := Write(&again, spec, nil); err != nil {
		t.Fatal(err)
	}
	if again.String() != fromSpec.String() {
		t.Fatal("second Write differs from the first")
	}
	return fromSpec.String()
}

// layout returns assertions that cname has the size and member offsets of
// s (a *btf.Struct or *btf.Union), descending into anonymous members.
func layout(cname string, s btf.Type) []string {
	var size uint32
	var members []btf.Member
	switch s := s.(type) {
	case *btf.Struct:
		size, members = s.Size, s.Members
	case *btf.Union:
		size, members = s.Size, s.Members
	default:
		panic(fmt.Sprintf("layout of %T", s))
	}
	checks := []string{fmt.Sprintf("sizeof(%s) == %d", cname, size)}
	var walk func(ms []btf.Member, base uint32)
	walk = func(ms []btf.Member, base uint32) {
		for _, m := range ms {
			if m.BitfieldSize != 0 {
				continue
			}
			off := base + m.Offset.Bytes()
			if m.Name != "" {
				checks = append(checks, fmt.Sprintf("__builtin_offsetof(%s, %s) == %d", cname, m.Name, off))
				continue
			}
			switch inner := m.Type.(type) {
			case *btf.Struct:
				walk(inner.Members, off)
			case *btf.Union:
				walk(inner.Members, off)
			}
		}
	}
	walk(members, 0)
	return checks
}

// compileChecks compiles header followed by a _Static_assert per check.
func compileChecks(t *testing.T, header string, checks ...string) {
	t.Helper()
	clang := testenv.Clang(t)
	var b strings.Builder
	b.WriteString(header)
	for _, c := range checks {
		fmt.Fprintf(&b, "_Static_assert(%s, %q);\n", c, c)
	}
	compileC(t, clang, b.String())
}

func mustContain(t *testing.T, header string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(header, w) {
			t.Errorf("header lacks %q:\n%s", w, header)
		}
	}
}

// before checks that a appears, and before b.
func before(t *testing.T, header, a, b string) {
	t.Helper()
	i, j := strings.Index(header, a), strings.Index(header, b)
	if i < 0 || j < 0 || i > j {
		t.Errorf("want %q before %q:\n%s", a, b, header)
	}
}

func TestForwardDeclarationCycle(t *testing.T) {
	// struct a points to struct b, which embeds struct a: b needs a
	// defined, a only needs b declared.
	a := &btf.Struct{Name: "a", Size: 16}
	b := &btf.Struct{Name: "b", Size: 32}
	a.Members = []btf.Member{mem("b", ptr(b), 0), mem("n", tU64, 8)}
	b.Members = []btf.Member{mem("a", a, 0), mem("self", ptr(b), 16), mem("flag", tBool, 24)}

	// typedef struct node node_t; struct node { node_t *next; int v; };
	node := &btf.Struct{Name: "node", Size: 16}
	nodeT := &btf.Typedef{Name: "node_t", Type: node}
	node.Members = []btf.Member{mem("next", ptr(nodeT), 0), mem("v", tS32, 8)}

	// Mutual recursion through typedefs of pointers.
	ping := &btf.Struct{Name: "ping", Size: 8}
	pong := &btf.Struct{Name: "pong", Size: 8}
	pingP := &btf.Typedef{Name: "ping_p", Type: ptr(ping)}
	pongP := &btf.Typedef{Name: "pong_p", Type: ptr(pong)}
	ping.Members = []btf.Member{mem("other", pongP, 0)}
	pong.Members = []btf.Member{mem("other", pingP, 0)}

	// Forward declarations of things BTF never defines.
	opaque := &btf.Fwd{Name: "opaque", Kind: btf.FwdStruct}
	opaqueU := &btf.Fwd{Name: "opaque_u", Kind: btf.FwdUnion}
	holder := &btf.Struct{Name: "holder", Size: 16, Members: []btf.Member{
		mem("o", ptr(opaque), 0), mem("u", ptr(opaqueU), 8),
	}}

	h := generate(t, a, b, node, ping, pong, holder)
	before(t, h, "struct b;\n", "struct a {")
	before(t, h, "struct a {", "struct b {")
	mustContain(t, h, "struct opaque;\n", "union opaque_u;\n", "\tnode_t *next;\n")

	var checks []string
	for _, c := range []struct {
		name string
		typ  btf.Type
	}{{"struct a", a}, {"struct b", b}, {"struct node", node}, {"struct ping", ping}, {"struct pong", pong}, {"struct holder", holder}} {
		checks = append(checks, layout(c.name, c.typ)...)
	}
	compileChecks(t, h, checks...)
}

func TestAnonymousNested(t *testing.T) {
	halves := &btf.Struct{Size: 8, Members: []btf.Member{mem("lo", tU32, 0), mem("hi", tU32, 4)}}
	u := &btf.Union{Size: 8, Members: []btf.Member{mem("x", tU64, 0), mem("", halves, 0)}}
	inner := &btf.Struct{Size: 4, Members: []btf.Member{mem("p", tU16, 0), mem("q", tU16, 2)}}
	anonEnum := &btf.Enum{Size: 4, Values: []btf.EnumValue{{Name: "MODE_A", Value: 0}, {Name: "MODE_B", Value: 1}}}
	pointee := &btf.Struct{Size: 4, Members: []btf.Member{mem("z", tS32, 0)}}
	outer := &btf.Struct{Name: "outer", Size: 40, Members: []btf.Member{
		mem("kind", tU32, 0),
		mem("", u, 8),
		mem("inner", inner, 16),
		mem("mode", anonEnum, 20),
		mem("pz", ptr(pointee), 24),
		mem("arr", arr(inner, 2), 32),
	}}
	h := generate(t, outer)
	mustContain(t, h,
		"\tunion {\n\t\tlong long unsigned int x;\n\t\tstruct {\n\t\t\tunsigned int lo;",
		"\t} inner;",
		"\tenum {\n\t\tMODE_A = 0,\n\t\tMODE_B = 1,\n\t} mode;",
		"\tstruct {\n\t\tint z;\n\t} *pz;",
		"} arr[2];",
	)
	if strings.Contains(h, "\nunion {") || strings.Contains(h, "\nstruct {") {
		t.Errorf("anonymous record written at top level:\n%s", h)
	}
	compileChecks(t, h, append(layout("struct outer", outer),
		"__builtin_offsetof(struct outer, inner.q) == 18",
		"sizeof(((struct outer *)0)->arr) == 8")...)
}

func TestBitfields(t *testing.T) {
	s := &btf.Struct{Name: "bits", Size: 24, Members: []btf.Member{
		bitfield("a", tU32, 0, 3),
		bitfield("b", tU32, 3, 5),
		bitfield("c", tU32, 12, 20), // 4-bit hole before c
		mem("d", tU8, 4),
		bitfield("e", tU64, 64, 40),
		bitfield("f", tU64, 104, 24),
		bitfield("g", tU16, 128, 1), // then 63 bits of tail padding
	}}
	// A bitfield after a gap crossing a storage unit boundary.
	s2 := &btf.Struct{Name: "bits2", Size: 8, Members: []btf.Member{
		mem("x", tU8, 0),
		bitfield("y", tU32, 40, 7),
	}}
	h := generate(t, s, s2)
	mustContain(t, h,
		"\tunsigned int a: 3;\n\tunsigned int b: 5;\n\tchar: 4;\n\tunsigned int c: 20;",
		"\tlong long unsigned int e: 40;",
	)
	compileChecks(t, h, append(layout("struct bits", s), layout("struct bits2", s2)...)...)
}

func TestPackedAndPadding(t *testing.T) {
	packed := &btf.Struct{Name: "pk", Size: 5, Members: []btf.Member{mem("a", tU8, 0), mem("b", tU32, 1)}}
	tailPacked := &btf.Struct{Name: "tail_pk", Size: 12, Members: []btf.Member{mem("a", tU64, 0), mem("b", tU32, 8)}}
	padded := &btf.Struct{Name: "padded", Size: 32, Members: []btf.Member{mem("a", tU8, 0), mem("b", tU64, 16), mem("c", tU8, 24)}}
	// Over-aligned (think __aligned(64) or ____cacheline_aligned).
	cacheline := &btf.Struct{Name: "cacheline", Size: 64, Members: []btf.Member{mem("x", tU32, 0)}}
	user := &btf.Struct{Name: "user", Size: 192, Members: []btf.Member{
		mem("c", tChar, 0), mem("line", cacheline, 64), mem("lines", arr(cacheline, 1), 128),
	}}
	// Unions BTF records larger than their members.
	bigUnion := &btf.Union{Name: "big_u", Size: 16, Members: []btf.Member{mem("v", tU32, 0)}}
	emptyUnion := &btf.Typedef{Name: "empty_u_t", Type: &btf.Union{Size: 8}}
	// A struct embedding a packed one at an odd offset.
	outer := &btf.Struct{Name: "pk_outer", Size: 7, Members: []btf.Member{mem("c", tU8, 0), mem("in", packed, 1), mem("d", tU8, 6)}}
	empty := &btf.Struct{Name: "empty", Size: 0}

	h := generate(t, packed, tailPacked, padded, user, bigUnion, emptyUnion, outer, empty)
	mustContain(t, h,
		"struct pk {\n\tunsigned char a;\n\tunsigned int b;\n} __attribute__((packed));",
		"} __attribute__((packed));\n\nstruct padded",
		"struct empty {};",
	)
	if strings.Contains(h, "struct padded {\n\tunsigned char a;\n\tlong long unsigned int b;\n\tunsigned char c;\n} __attribute__((packed))") {
		t.Error("padded struct marked packed")
	}
	var checks []string
	for _, c := range []struct {
		name string
		typ  btf.Type
	}{{"struct pk", packed}, {"struct tail_pk", tailPacked}, {"struct padded", padded}, {"struct cacheline", cacheline},
		{"struct user", user}, {"union big_u", bigUnion}, {"struct pk_outer", outer}, {"struct empty", empty}} {
		checks = append(checks, layout(c.name, c.typ)...)
	}
	checks = append(checks, "sizeof(empty_u_t) == 8")
	compileChecks(t, h, checks...)
}

func TestEnums(t *testing.T) {
	u32 := &btf.Enum{Name: "e32", Size: 4, Values: []btf.EnumValue{{Name: "E32_ZERO", Value: 0}, {Name: "E32_MAX", Value: 0xffffffff}}}
	s32 := &btf.Enum{Name: "es32", Size: 4, Signed: true, Values: []btf.EnumValue{
		{Name: "ES_NEG", Value: uint64(0xffffffffffffffff)}, {Name: "ES_MIN", Value: uint64(0xffffffff80000000)}, {Name: "ES_POS", Value: 5},
	}}
	big := &btf.Enum{Name: "big64", Size: 8, Values: []btf.EnumValue{{Name: "BIG_BIT40", Value: 1 << 40}, {Name: "BIG_ONE", Value: 1}, {Name: "BIG_MAX", Value: ^uint64(0)}}}
	sbig := &btf.Enum{Name: "sbig64", Size: 8, Signed: true, Values: []btf.EnumValue{{Name: "SBIG_NEG", Value: uint64(1<<64 - 1<<62)}, {Name: "SBIG_POS", Value: 1 << 33}}}
	small64 := &btf.Enum{Name: "small64", Size: 8, Values: []btf.EnumValue{{Name: "SMALL_A", Value: 1}, {Name: "SMALL_B", Value: 2}}}
	tiny := &btf.Enum{Name: "tiny", Size: 1, Values: []btf.EnumValue{{Name: "TINY_X", Value: 1}}}
	globals := &btf.Enum{Size: 4, Values: []btf.EnumValue{{Name: "GLOBAL_K", Value: 7}}}
	dupA := &btf.Enum{Name: "dup_a", Size: 4, Values: []btf.EnumValue{{Name: "DUP", Value: 1}}}
	dupB := &btf.Enum{Name: "dup_b", Size: 4, Values: []btf.EnumValue{{Name: "DUP", Value: 2}}}
	fwd := &btf.Enum{Name: "fwd_e", Size: 4}
	user := &btf.Struct{Name: "enum_user", Size: 32, Members: []btf.Member{
		mem("t", tiny, 0), mem("s", small64, 8), mem("f", ptr(fwd), 16), bitfield("e", u32, 192, 3),
	}}

	h := generate(t, u32, s32, big, sbig, small64, tiny, globals, dupA, dupB, user)
	mustContain(t, h,
		"\tE32_MAX = 4294967295,",
		"\tES_NEG = -1,", "\tES_MIN = -2147483648,",
		"\tBIG_BIT40 = 1099511627776ULL,", "\tBIG_MAX = 18446744073709551615ULL,",
		"\tSBIG_NEG = -4611686018427387904LL,",
		"} __attribute__((mode(word)));", // small64
		"} __attribute__((mode(byte)));", // tiny
		"enum {\n\tGLOBAL_K = 7,\n};",
		"\tDUP = 1,", "\tDUP___2 = 2,",
		"enum fwd_e;\n",
		"\tenum e32 e: 3;",
	)
	compileChecks(t, h, append(layout("struct enum_user", user),
		"sizeof(enum e32) == 4", "sizeof(enum es32) == 4", "sizeof(enum big64) == 8", "sizeof(enum sbig64) == 8",
		"sizeof(enum small64) == 8", "sizeof(enum tiny) == 1",
		"ES_NEG == -1", "ES_MIN == -2147483647 - 1", "E32_MAX == 0xffffffffu",
		"BIG_BIT40 == 1ULL << 40", "SBIG_NEG == -(1LL << 62)", "SBIG_POS == 1LL << 33",
		"GLOBAL_K == 7", "DUP == 1", "DUP___2 == 2")...)
}

func TestDuplicateNames(t *testing.T) {
	dup1 := &btf.Struct{Name: "dup", Size: 4, Members: []btf.Member{mem("x", tU32, 0)}}
	dup2 := &btf.Struct{Name: "dup", Size: 16, Members: []btf.Member{mem("y", tU64, 8)}}
	h1 := &btf.Typedef{Name: "handle_t", Type: tU32}
	h2 := &btf.Typedef{Name: "handle_t", Type: tU64}
	// Struct, union and enum tags share one namespace in C.
	sameS := &btf.Struct{Name: "same", Size: 4, Members: []btf.Member{mem("s", tS32, 0)}}
	sameU := &btf.Union{Name: "same", Size: 8, Members: []btf.Member{mem("u", tLong, 0)}}
	// Typedef names and enumerators share the ordinary namespace.
	kT := &btf.Typedef{Name: "K", Type: tS32}
	kE := &btf.Enum{Name: "k_enum", Size: 4, Values: []btf.EnumValue{{Name: "K", Value: 3}}}
	user := &btf.Struct{Name: "dup_user", Size: 48, Members: []btf.Member{
		mem("a", dup1, 0), mem("b", dup2, 8), mem("h1", h1, 24), mem("h2", h2, 32), mem("k", kT, 40), mem("e", kE, 44),
	}}
	h := generate(t, dup1, dup2, h1, h2, sameS, sameU, kT, kE, user)
	mustContain(t, h,
		"struct dup {", "struct dup___2 {", "typedef unsigned int handle_t;", "typedef long long unsigned int handle_t___2;",
		"struct same {", "union same___2 {", "typedef int K;", "\tK___2 = 3,",
		"\tstruct dup a;\n\tstruct dup___2 b;\n\thandle_t h1;\n\thandle_t___2 h2;",
	)
	compileChecks(t, h, append(append(append(layout("struct dup_user", user),
		layout("struct dup", dup1)...), layout("struct dup___2", dup2)...),
		"sizeof(handle_t) == 4", "sizeof(handle_t___2) == 8", "sizeof(union same___2) == 8", "K___2 == 3")...)
}

func TestFuncProtosAndDeclarators(t *testing.T) {
	ops := &btf.Struct{Name: "ops", Size: 160}
	// typedef int (*cb_t)(void *, int, ...);
	cb := &btf.Typedef{Name: "cb_t", Type: ptr(&btf.FuncProto{Return: tS32, Params: []btf.FuncParam{
		{Name: "ctx", Type: ptr(tVoid)}, {Name: "n", Type: tS32}, {Type: tVoid},
	}})}
	// typedef void fn_t(void);
	fn := &btf.Typedef{Name: "fn_t", Type: &btf.FuncProto{Return: tVoid}}
	// typedef int vec3[3];
	vec3 := &btf.Typedef{Name: "vec3", Type: arr(tS32, 3)}
	// int (*handlers[4])(struct ops *);
	handler := ptr(&btf.FuncProto{Return: tS32, Params: []btf.FuncParam{{Name: "o", Type: ptr(ops)}}})
	// void (*(*getter)(int))(long);  a function returning a function pointer
	inner := ptr(&btf.FuncProto{Return: tVoid, Params: []btf.FuncParam{{Type: tLong}}})
	getter := ptr(&btf.FuncProto{Return: inner, Params: []btf.FuncParam{{Type: tS32}}})
	item := &btf.Struct{Name: "item", Size: 8, Members: []btf.Member{mem("id", tU64, 0)}}

	ops.Members = []btf.Member{
		mem("cb", cb, 0),
		mem("handlers", arr(handler, 4), 8),
		mem("getter", getter, 40),
		mem("names", ptr(&btf.Const{Type: ptr(&btf.Const{Type: tChar})}), 48),
		mem("flags", &btf.Volatile{Type: tS32}, 56),
		mem("buf", &btf.Restrict{Type: ptr(tChar)}, 64),
		mem("matrix", arr(arr(tU8, 4), 3), 72),
		mem("f", tFloat, 84),
		mem("d", tDouble, 88),
		mem("ok", tBool, 96),
		mem("big", tI128, 112),
		mem("ubig", tU128, 128),
		mem("items", arr(item, 1), 144),
		mem("rows", ptr(arr(tS32, 4)), 152),
	}
	h := generate(t, ops, fn, vec3)
	mustContain(t, h,
		"typedef int (*cb_t)(void *ctx, int n, ...);",
		"typedef void fn_t(void);",
		"typedef int vec3[3];",
		"\tint (*handlers[4])(struct ops *o);",
		"\tvoid (* (*getter)(int))(long int);",
		"\tconst char * const *names;",
		"\tvolatile int flags;",
		"\tchar * restrict buf;",
		"\tunsigned char matrix[3][4];",
		"\t_Bool ok;",
		"\t__int128 unsigned ubig;",
		"\tstruct item items[1];",
		"\tint (*rows)[4];",
	)
	compileChecks(t, h, append(layout("struct ops", ops),
		"sizeof(vec3) == 12", "sizeof(fn_t *) == 8",
		"__builtin_types_compatible_p(cb_t, int (*)(void *, int, ...))",
		"__builtin_types_compatible_p(__typeof__(((struct ops *)0)->getter), void (*(*)(int))(long))")...)
}

func TestSkippedKinds(t *testing.T) {
	// Functions, variables and data sections are not written.
	proto := &btf.FuncProto{Return: tS32, Params: []btf.FuncParam{{Name: "x", Type: tS32}}}
	fn := &btf.Func{Name: "some_func", Type: proto, Linkage: btf.GlobalFunc}
	v := &btf.Var{Name: "some_var", Type: tS32, Linkage: btf.GlobalVar}
	ds := &btf.Datasec{Name: ".data", Size: 4, Vars: []btf.VarSecinfo{{Type: v, Offset: 0, Size: 4}}}
	tagged := &btf.Typedef{Name: "tagged_t", Type: tU32, Tags: []string{"a_decl_tag"}}
	h := generate(t, fn, ds, tagged)
	for _, s := range []string{"some_func", "some_var", ".data", "a_decl_tag"} {
		if strings.Contains(h, s) {
			t.Errorf("header mentions %q:\n%s", s, h)
		}
	}
	mustContain(t, h, "typedef unsigned int tagged_t;")
	compileChecks(t, h, "sizeof(tagged_t) == 4")
}

func TestOptions(t *testing.T) {
	s := &btf.Struct{Name: "s", Size: 4, Members: []btf.Member{mem("x", tU32, 0)}}
	spec := specOf(t, s)

	var def bytes.Buffer
	if err := Write(&def, spec, nil); err != nil {
		t.Fatal(err)
	}
	h := def.String()
	if !strings.HasPrefix(h, "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n") {
		t.Errorf("unexpected start:\n%s", h)
	}
	if !strings.HasSuffix(h, "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n") {
		t.Errorf("unexpected end:\n%s", h)
	}

	var custom bytes.Buffer
	if err := Write(&custom, spec, &Options{Guard: "MY_TYPES_H", NoPreserveAccessIndex: true}); err != nil {
		t.Fatal(err)
	}
	c := custom.String()
	if strings.Contains(c, "preserve_access_index") || strings.Contains(c, "__VMLINUX_H__") {
		t.Errorf("options ignored:\n%s", c)
	}
	mustContain(t, c, "#ifndef MY_TYPES_H\n#define MY_TYPES_H\n", "#endif /* MY_TYPES_H */\n")

	for _, bad := range []string{"1ABC", "A-B", "A B", "A\nB"} {
		if err := Write(&bytes.Buffer{}, spec, &Options{Guard: bad}); err == nil {
			t.Errorf("guard %q accepted", bad)
		}
	}
	compileChecks(t, h, "sizeof(struct s) == 4")
	compileChecks(t, c, "sizeof(struct s) == 4")
}

func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestInexpressible checks that type graphs cilium/ebpf accepts but C cannot
// express make Write fail cleanly rather than panic or loop.
func TestInexpressible(t *testing.T) {
	selfStruct := &btf.Struct{Name: "self", Size: 8}
	selfStruct.Members = []btf.Member{mem("me", selfStruct, 0)}

	selfPtr := &btf.Pointer{}
	selfPtr.Target = selfPtr

	selfTypedef := &btf.Typedef{Name: "loop_t"}
	selfTypedef.Type = selfTypedef

	selfConst := &btf.Const{}
	selfConst.Type = selfConst

	selfArray := &btf.Array{Index: tU32, Nelems: 2}
	selfArray.Type = selfArray

	anonLoop := &btf.Struct{Size: 8}
	anonLoop.Members = []btf.Member{mem("p", ptr(anonLoop), 0)}
	anonUser := &btf.Typedef{Name: "anon_loop_t", Type: anonLoop}

	fnMember := &btf.Struct{Name: "has_func", Size: 8, Members: []btf.Member{
		mem("f", &btf.Func{Name: "f", Type: &btf.FuncProto{Return: tVoid}}, 0),
	}}

	for _, c := range []struct {
		name string
		typ  btf.Type
	}{
		{"struct containing itself", selfStruct},
		{"pointer to itself", selfPtr},
		{"typedef of itself", selfTypedef},
		{"const of itself", selfConst},
		{"array of itself", selfArray},
		{"anonymous struct loop", anonLoop},
		{"typedef of anon loop", anonUser},
		{"function as member", fnMember},
	} {
		typ := c.typ
		t.Run(c.name, func(t *testing.T) {
			b, err := btf.NewBuilder([]btf.Type{typ}, nil)
			if err != nil {
				t.Skipf("cilium/ebpf rejects it: %v", err)
			}
			raw, err := b.Marshal(nil, nil)
			if err != nil {
				t.Skipf("cilium/ebpf cannot marshal it: %v", err)
			}
			spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
			if err != nil {
				t.Skipf("cilium/ebpf cannot load it: %v", err)
			}
			err = Write(&bytes.Buffer{}, spec, nil)
			if err == nil {
				t.Fatal("Write accepted it")
			}
			t.Log(err)
			if err := WriteFromReader(&bytes.Buffer{}, bytes.NewReader(raw), nil); err == nil {
				t.Fatal("WriteFromReader accepted it")
			}
		})
	}

	if err := Write(&bytes.Buffer{}, nil, nil); err == nil {
		t.Error("nil spec accepted")
	}
}

// TestRawRobustness feeds WriteFromReader truncated and corrupted BTF: it
// may fail, but must not panic or hang.
func TestRawRobustness(t *testing.T) {
	s := &btf.Struct{Name: "s", Size: 24, Members: []btf.Member{
		mem("a", tU32, 0), bitfield("b", tU32, 32, 3), mem("p", ptr(&btf.FuncProto{Return: tS32, Params: []btf.FuncParam{{Name: "x", Type: tLong}}}), 8),
		mem("e", &btf.Enum{Name: "e", Size: 8, Values: []btf.EnumValue{{Name: "E", Value: 1 << 40}}}, 16),
	}}
	b, err := btf.NewBuilder([]btf.Type{s, &btf.Typedef{Name: "td", Type: arr(tFloat, 2)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(raw); n++ {
		_ = WriteFromReader(io.Discard, bytes.NewReader(raw[:n]), nil)
	}
	// Deterministic pseudo-random corruption.
	state := uint32(1)
	next := func() uint32 {
		state ^= state << 13
		state ^= state >> 17
		state ^= state << 5
		return state
	}
	buf := make([]byte, len(raw))
	iterations := 5000
	if testing.Short() {
		iterations = 500
	}
	for range iterations {
		copy(buf, raw)
		for range 1 + next()%4 {
			i := 24 + int(next())%(len(buf)-24) // keep the header mostly sane
			buf[i] = byte(next())
		}
		_ = WriteFromReader(io.Discard, bytes.NewReader(buf), nil)
	}
	if err := WriteFromReader(&bytes.Buffer{}, bytes.NewReader([]byte("not BTF at all")), nil); err == nil {
		t.Error("garbage accepted")
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vmlinux.h")
	s := &btf.Struct{Name: "s", Size: 4, Members: []btf.Member{mem("x", tU32, 0)}}
	spec := specOf(t, s)
	if err := WriteFile(path, spec, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := Write(&want, spec, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("WriteFile and Write differ")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}

	// A failing write leaves the previous file alone and no temp file.
	loop := &btf.Struct{Name: "loop", Size: 4}
	loop.Members = []btf.Member{mem("me", loop, 0)}
	err = WriteFile(path, specOf(t, loop), nil)
	if err == nil {
		t.Fatal("WriteFile accepted a struct containing itself")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, got) {
		t.Error("failed WriteFile changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left behind: %v", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.h"), spec, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if !errors.Is(WriteFile(filepath.Join(dir, "missing", "x.h"), spec, nil), os.ErrNotExist) {
		t.Error("error does not wrap os.ErrNotExist")
	}
}

func TestTopLevelNames(t *testing.T) {
	src := "struct a {\n\tint x;\n};\n\nstruct b;\n\nunion u {\n\tint y;\n};\n\nenum e {\n\tE = 0,\n};\n\n" +
		"typedef int (*fp_t)(int);\n\ntypedef void fn_t(void);\n\ntypedef int arr_t[4];\n\n" +
		"typedef struct {\n\tint z;\n} anon_t;\n\ntypedef const char * const *pp_t;\n\nenum {\n\tG = 1,\n};\n\n" +
		"typedef void (* const cfp_t)(void);\n"
	got := topLevelNames(src)
	for _, w := range []string{"struct a", "struct b", "union u", "enum e", "typedef fp_t", "typedef fn_t",
		"typedef arr_t", "typedef anon_t", "typedef pp_t", "typedef cfp_t"} {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
	if len(got) != 10 {
		t.Errorf("got %d names: %v", len(got), got)
	}
}

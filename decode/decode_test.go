package decode

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// Types as clang emits them for BPF.
var (
	tChar    = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	tSChar   = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	tUChar   = &btf.Int{Name: "unsigned char", Size: 1}
	tBool    = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	tShort   = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	tUShort  = &btf.Int{Name: "unsigned short", Size: 2}
	tInt     = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	tUInt    = &btf.Int{Name: "unsigned int", Size: 4}
	tLong    = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	tULong   = &btf.Int{Name: "unsigned long long", Size: 8}
	tI128    = &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	tU128    = &btf.Int{Name: "unsigned __int128", Size: 16}
	tFloat   = &btf.Float{Name: "float", Size: 4}
	tDouble  = &btf.Float{Name: "double", Size: 8}
	tU8      = &btf.Typedef{Name: "__u8", Type: tUChar}
	tU32     = &btf.Typedef{Name: "__u32", Type: tUInt}
	tU64     = &btf.Typedef{Name: "__u64", Type: tULong}
	tPid     = &btf.Typedef{Name: "pid_t", Type: tInt}
	tVoidPtr = &btf.Pointer{Target: &btf.Void{}}
)

func arr(t btf.Type, n uint32) *btf.Array {
	return &btf.Array{Index: tUInt, Type: t, Nelems: n}
}

// mem is a member at a byte offset.
func mem(name string, t btf.Type, off uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(off * 8)}
}

// bitf is a bitfield member at a bit offset.
func bitf(name string, t btf.Type, bitOff, bits uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(bitOff), BitfieldSize: btf.Bits(bits)}
}

func st(name string, size uint32, members ...btf.Member) *btf.Struct {
	return &btf.Struct{Name: name, Size: size, Members: members}
}

// le builds little-endian event data.
type le []byte

func (b le) u8(v uint8) le   { return append(b, v) }
func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) u64(v uint64) le { return binary.LittleEndian.AppendUint64(b, v) }

// str appends s padded with NULs (or cut) to n bytes.
func (b le) str(s string, n int) le {
	p := make([]byte, n)
	copy(p, s)
	return append(b, p...)
}

type golden struct {
	name string
	typ  btf.Type
	data []byte
	opts *Options
	json string
	text string // "" to skip
}

func (g golden) check(t *testing.T) {
	t.Helper()
	d, err := New(g.typ, g.opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	prefix := []byte("prefix")
	out, err := d.AppendJSON(append([]byte(nil), prefix...), g.data)
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	if !strings.HasPrefix(string(out), string(prefix)) {
		t.Fatalf("AppendJSON clobbered dst: %q", out)
	}
	got := string(out[len(prefix):])
	if got != g.json {
		t.Errorf("JSON:\n got %s\nwant %s", got, g.json)
	}
	if !json.Valid([]byte(got)) {
		t.Errorf("invalid JSON: %s", got)
	}
	if g.text != "" {
		out, err := d.AppendText(nil, g.data)
		if err != nil {
			t.Fatalf("AppendText: %v", err)
		}
		if string(out) != g.text {
			t.Errorf("text:\n got %q\nwant %q", out, g.text)
		}
	}
}

func TestIntegers(t *testing.T) {
	ints := st("ints", 32,
		mem("u8", tU8, 0), mem("s8", tSChar, 1), mem("u16", tUShort, 2),
		mem("s16", tShort, 4), mem("b", tBool, 6), mem("c", tChar, 7),
		mem("u32", tU32, 8), mem("s32", tPid, 12),
		mem("u64", tU64, 16), mem("s64", tLong, 24))
	for _, g := range []golden{{
		name: "max",
		typ:  ints,
		data: le{}.u8(255).u8(0x7f).u16(65535).u16(0x7fff).u8(1).u8('A').
			u32(math.MaxUint32).u32(math.MaxInt32).u64(math.MaxUint64).u64(math.MaxInt64),
		json: `{"u8":255,"s8":127,"u16":65535,"s16":32767,"b":true,"c":65,"u32":4294967295,"s32":2147483647,"u64":18446744073709551615,"s64":9223372036854775807}`,
		text: "255  127 65535  32767 true    65 4294967295 2147483647 18446744073709551615 9223372036854775807",
	}, {
		name: "min",
		typ:  ints,
		data: le{}.u8(0).u8(0x80).u16(0).u16(0x8000).u8(0).u8(0xff).
			u32(0).u32(0x80000000).u64(0).u64(1 << 63),
		json: `{"u8":0,"s8":-128,"u16":0,"s16":-32768,"b":false,"c":-1,"u32":0,"s32":-2147483648,"u64":0,"s64":-9223372036854775808}`,
		text: "  0 -128     0 -32768 false   -1       0 -2147483648                0 -9223372036854775808",
	}, {
		name: "bool2",
		typ:  st("b", 1, mem("ok", tBool, 0)),
		data: []byte{2},
		json: `{"ok":true}`,
		text: "true",
	}, {
		name: "lone",
		typ:  tPid,
		data: le{}.u32(0xfffffffe),
		json: `-2`,
		text: "     -2",
	}} {
		t.Run(g.name, g.check)
	}
}

func TestInt128(t *testing.T) {
	typ := st("wide", 32, mem("s", tI128, 0), mem("u", tU128, 16))
	for _, g := range []golden{{
		name: "small",
		data: le{}.u64(math.MaxUint64 - 41).u64(math.MaxUint64).u64(42).u64(0),
		json: `{"s":-42,"u":42}`,
	}, {
		name: "max",
		data: le{}.u64(math.MaxUint64).u64(math.MaxInt64).u64(math.MaxUint64).u64(math.MaxUint64),
		json: `{"s":170141183460469231731687303715884105727,"u":340282366920938463463374607431768211455}`,
	}, {
		name: "min",
		data: le{}.u64(0).u64(1 << 63).u64(0).u64(1),
		json: `{"s":-170141183460469231731687303715884105728,"u":18446744073709551616}`,
	}, {
		// -10^19 and 10^20 (zeros in the lower base-10^19 digit).
		name: "pow10",
		data: le{}.u64(0x7538dcfb76180000).u64(math.MaxUint64).u64(0x6bc75e2d63100000).u64(5),
		json: `{"s":-10000000000000000000,"u":100000000000000000000}`,
	}} {
		g.typ = typ
		t.Run(g.name, g.check)
	}
}

func TestStrings(t *testing.T) {
	typ := st("s", 24, mem("comm", arr(tChar, 8), 0), mem("buf", arr(tU8, 4), 8),
		mem("uc", arr(tUChar, 2), 12), mem("sc", arr(tSChar, 2), 14),
		mem("cc", arr(&btf.Const{Type: &btf.Volatile{Type: tChar}}, 4), 16),
		mem("td", arr(&btf.Typedef{Name: "mychar", Type: tChar}, 2), 20),
		mem("b", arr(tBool, 2), 22))
	for _, g := range []golden{{
		name: "plain",
		data: le{}.str("bash\x00xyz", 8).u8(1).u8(2).u8(3).u8(255).u8(1).u8(200).u8(0xff).u8(1).
			str("ab", 4).u8('a').u8('b').u8(1).u8(0),
		json: `{"comm":"bash","buf":[1,2,3,255],"uc":"\u0001\ufffd","sc":[-1,1],"cc":"ab","td":[97,98],"b":[true,false]}`,
		text: `bash     [1,2,3,255] \x01\xc8 [-1,1] ab   [97,98] [true,false]`,
	}, {
		name: "full",
		data: le{}.str("12345678", 8).u32(0).u16(0).u16(0).str("abcd", 4).u16(0).u16(0),
		json: `{"comm":"12345678","buf":[0,0,0,0],"uc":"","sc":[0,0],"cc":"abcd","td":[0,0],"b":[false,false]}`,
		text: "12345678 [0,0,0,0]    [0,0] abcd [0,0] [false,false]",
	}, {
		name: "escapes",
		data: le{}.str("\"\\\n\x01\xff\t/", 8).u32(0).u16(0).u16(0).str("\xc3\xa9\x7f", 4).u16(0).u16(0),
		json: `{"comm":"\"\\\n\u0001\ufffd\t/","buf":[0,0,0,0],"uc":"","sc":[0,0],"cc":"é\u007f","td":[0,0],"b":[false,false]}`,
		text: `"\\\n\x01\xff\t/ [0,0,0,0]    [0,0] é\x7f [0,0] [false,false]`,
	}, {
		// Padding counts characters, not bytes.
		name: "utf8",
		data: le{}.str("h\u00e9llo", 8).u32(0).u16(0).u16(0).str("", 4).u16(0).u16(0),
		json: `{"comm":"héllo","buf":[0,0,0,0],"uc":"","sc":[0,0],"cc":"","td":[0,0],"b":[false,false]}`,
		text: "h\u00e9llo    [0,0,0,0]    [0,0]      [0,0] [false,false]",
	}, {
		name: "truncated-utf8",
		data: le{}.str("ok\xe2\x82", 8).u32(0).u16(0).u16(0).str("\xe2\x80\xa8", 4).u16(0).u16(0),
		json: `{"comm":"ok\ufffd\ufffd","buf":[0,0,0,0],"uc":"","sc":[0,0],"cc":"\u2028","td":[0,0],"b":[false,false]}`,
		text: `ok\xe2\x82 [0,0,0,0]    [0,0] \xe2\x80\xa8 [0,0] [false,false]`,
	}} {
		g.typ = typ
		t.Run(g.name, g.check)
	}
}

func TestArrays(t *testing.T) {
	point := st("point", 8, mem("x", tInt, 0), mem("y", tInt, 4))
	typ := st("a", 64,
		mem("v", arr(tShort, 3), 0),
		mem("m", arr(arr(tU8, 3), 2), 6),
		mem("names", arr(arr(tChar, 4), 2), 12),
		mem("pts", arr(point, 2), 20),
		mem("none", arr(tInt, 0), 36),
		mem("nostr", arr(tChar, 0), 36),
		mem("ptrs", arr(tVoidPtr, 2), 40),
		mem("tail", tU64, 56))
	g := golden{
		name: "mixed",
		typ:  typ,
		data: le{}.u16(1).u16(0xffff).u16(3).
			u8(1).u8(2).u8(3).u8(4).u8(5).u8(6).
			str("ab", 4).str("cdef", 4).
			u32(1).u32(0xfffffffe).u32(3).u32(4).
			u32(0).
			u64(0x7ffd5e2a1c40).u64(0).
			u64(7),
		json: `{"v":[1,-1,3],"m":[[1,2,3],[4,5,6]],"names":["ab","cdef"],"pts":[{"x":1,"y":-2},{"x":3,"y":4}],"none":[],"nostr":"","ptrs":["0x7ffd5e2a1c40","0x0"],"tail":7}`,
		text: "[1,-1,3] [[1,2,3],[4,5,6]] [ab,cdef] [{x=1 y=-2},{x=3 y=4}] [] " +
			"        [0x7ffd5e2a1c40,0x0]                7",
	}
	g.check(t)
}

func TestStructsAndUnions(t *testing.T) {
	inner := st("inner", 8, mem("a", tInt, 0), mem("b", tUShort, 4))
	num := &btf.Union{Name: "num", Size: 8, Members: []btf.Member{
		mem("u", tU64, 0), mem("i", tInt, 0), mem("bytes", arr(tU8, 2), 0), mem("f", tDouble, 0),
	}}
	anonStruct := st("", 8, mem("x", tUInt, 0), mem("y", tUInt, 4))
	anonUnion := &btf.Union{Size: 4, Members: []btf.Member{mem("fd", tInt, 0), mem("ufd", tUInt, 0)}}
	typ := st("outer", 40,
		mem("in", inner, 0),
		mem("n", num, 8),
		mem("", anonStruct, 16),
		mem("", anonUnion, 24),
		bitf("", tInt, 28*8, 3), // padding bitfield: skipped
		mem("empty", st("empty", 0), 32),
		mem("last", tUChar, 32))
	g := golden{
		typ:  typ,
		data: le{}.u32(0xffffffff).u16(7).u16(0).u64(math.Float64bits(1)).u32(5).u32(6).u32(0xffffffff).u32(0).u64(9),
		json: `{"in":{"a":-1,"b":7},"n":{"u":4607182418800017408,"i":0,"bytes":[0,0],"f":1},"x":5,"y":6,"fd":-1,"ufd":4294967295,"empty":{},"last":9}`,
		text: "{a=-1 b=7} {u=4607182418800017408 i=0 bytes=[0,0] f=1}       5       6      -1 4294967295 {}       9",
	}
	g.check(t)

	d, err := New(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.Columns() {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "IN N X Y FD UFD EMPTY LAST" {
		t.Errorf("columns: %s", got)
	}
}

func TestEnums(t *testing.T) {
	state := &btf.Enum{Name: "state", Size: 4, Values: []btf.EnumValue{
		{Name: "IDLE", Value: 0}, {Name: "RUNNING", Value: 1}, {Name: "ALIAS", Value: 1}, {Name: "DEAD", Value: 7},
	}}
	signed := &btf.Enum{Name: "err", Size: 4, Signed: true, Values: []btf.EnumValue{
		// As cilium/ebpf reads them: sign-extended to 64 bits.
		{Name: "EPERM", Value: uint64(math.MaxUint64)}, {Name: "OK", Value: 0},
	}}
	big := &btf.Enum{Name: "big", Size: 8, Values: []btf.EnumValue{
		{Name: "HUGE", Value: 1 << 63}, {Name: "ONE", Value: 1},
	}}
	sparse := &btf.Enum{Name: "sparse", Size: 8, Signed: true, Values: []btf.EnumValue{
		{Name: "NEG", Value: uint64(math.MaxUint64 - 99999)}, {Name: "POS", Value: 1 << 40}, {Name: "Z", Value: 0},
	}}
	small := &btf.Enum{Name: "small", Size: 1, Values: []btf.EnumValue{{Name: "A", Value: 200}}}
	typ := st("e", 32, mem("state", state, 0), mem("err", signed, 4), mem("big", big, 8),
		mem("sparse", sparse, 16), mem("small", small, 24), mem("tdef", &btf.Typedef{Name: "state_t", Type: state}, 28))
	for _, g := range []golden{{
		name: "named",
		data: le{}.u32(1).u32(0xffffffff).u64(1 << 63).u64(math.MaxUint64 - 99999).u8(200).u8(0).u16(0).u32(7),
		json: `{"state":"RUNNING","err":"EPERM","big":"HUGE","sparse":"NEG","small":"A","tdef":"DEAD"}`,
		text: "RUNNING EPERM HUGE NEG    A     DEAD",
	}, {
		name: "numbers",
		data: le{}.u32(3).u32(0xfffffffe).u64(2).u64(math.MaxUint64).u8(1).u8(0).u16(0).u32(0xffffffff),
		json: `{"state":3,"err":-2,"big":2,"sparse":-1,"small":1,"tdef":4294967295}`,
		text: "3       -2    2    -1     1     4294967295",
	}} {
		g.typ = typ
		t.Run(g.name, g.check)
	}
}

func TestBitfields(t *testing.T) {
	color := &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 1}, {Name: "BLUE", Value: 2}}}
	// struct { unsigned a:3; int b:5; bool c:1; enum color d:2; int e:21;
	//          unsigned long long f:64 (at bit 67); __int128 g:100 (at bit 131) }
	typ := st("bits", 32,
		bitf("a", tUInt, 0, 3), bitf("b", tInt, 3, 5), bitf("c", tBool, 8, 1),
		bitf("d", color, 9, 2), bitf("e", tInt, 11, 21),
		bitf("f", tULong, 67, 64), bitf("g", tI128, 131, 100))
	// Lay the fields out bit by bit: little-endian bit offsets count from
	// the least significant bit of the first byte and fields start with
	// their least significant bit, big-endian ones the other way round.
	data := make([]byte, 32)
	beData := make([]byte, 32)
	put := func(off, n int, lo, hi uint64) {
		for i := range n {
			bit := lo>>i&1 == 1
			if i >= 64 {
				bit = hi>>(i-64)&1 == 1
			}
			if bit {
				p := off + i
				data[p/8] |= 1 << (p % 8)
				p = off + n - 1 - i
				beData[p/8] |= 0x80 >> (p % 8)
			}
		}
	}
	put(0, 3, 5, 0)
	put(3, 5, 0b10000, 0) // -16
	put(8, 1, 1, 0)
	put(9, 2, 2, 0)
	put(11, 21, 1<<20|1, 0) // -1048575
	put(67, 64, 0xfedcba9876543210, 0)
	put(131, 100, 1, 1<<35) // -2^99 + 1
	want := `{"a":5,"b":-16,"c":true,"d":"BLUE","e":-1048575,"f":18364758544493064720,"g":-633825300114114700748351602687}`
	golden{typ: typ, data: data, json: want,
		text: "5 -16 true  BLUE -1048575 18364758544493064720 -633825300114114700748351602687"}.check(t)
	golden{typ: typ, data: beData, json: want, opts: &Options{ByteOrder: binary.BigEndian}}.check(t)
}

func TestFloats(t *testing.T) {
	half := &btf.Float{Name: "_Float16", Size: 2}
	ld := &btf.Float{Name: "long double", Size: 16}
	typ := st("f", 56, mem("f", tFloat, 0), mem("d", tDouble, 8), mem("h", half, 16),
		mem("x", tDouble, 24), mem("y", tFloat, 32), mem("ld", ld, 40))
	for _, g := range []golden{{
		name: "plain",
		data: le{}.u32(math.Float32bits(1.5)).u32(0).u64(math.Float64bits(-0.1)).u16(0x3e00).u16(0).u32(0).
			u64(math.Float64bits(1e-7)).u32(math.Float32bits(1e21)).u32(0).u64(1).u64(1 << 63),
		json: `{"f":1.5,"d":-0.1,"h":1.5,"x":1e-7,"y":1e+21,"ld":"0x01000000000000000000000000000080"}`,
		text: "       1.5         -0.1        1.5         1e-7      1e+21 0x01000000000000000000000000000080",
	}, {
		name: "special",
		data: le{}.u32(math.Float32bits(float32(math.NaN()))).u32(0).u64(math.Float64bits(math.Inf(1))).u16(0xfc00).u16(0).u32(0).
			u64(math.Float64bits(math.Copysign(0, -1))).u32(math.Float32bits(0.1)).u32(0).u64(0).u64(0),
		json: `{"f":"NaN","d":"Infinity","h":"-Infinity","x":-0,"y":0.1,"ld":"0x00000000000000000000000000000000"}`,
		text: "       NaN     Infinity  -Infinity           -0        0.1 0x00000000000000000000000000000000",
	}} {
		g.typ = typ
		t.Run(g.name, g.check)
	}
}

func TestQualifiersAndPointers(t *testing.T) {
	fn := &btf.Pointer{Target: &btf.FuncProto{Return: tInt}}
	typ := st("q", 24,
		mem("c", &btf.Const{Type: tPid}, 0),
		mem("v", &btf.Volatile{Type: &btf.Restrict{Type: tU32}}, 4),
		mem("p", &btf.TypeTag{Value: "user", Type: &btf.Pointer{Target: tChar}}, 8),
		mem("fn", &btf.Typedef{Name: "cb_t", Type: fn}, 16))
	golden{
		typ:  &btf.Typedef{Name: "q_t", Type: &btf.Const{Type: typ}},
		data: le{}.u32(1).u32(2).u64(0xffffffff81000000).u64(0),
		json: `{"c":1,"v":2,"p":"0xffffffff81000000","fn":"0x0"}`,
		text: "      1       2 0xffffffff81000000 0x0",
	}.check(t)
}

func TestFlexibleArrays(t *testing.T) {
	strTail := st("s", 8, mem("len", tULong, 0), mem("data", arr(tChar, 0), 8))
	numTail := st("n", 8, mem("n", tUInt, 0), mem("pad", tUShort, 4), mem("vals", arr(tUShort, 0), 6))
	for _, g := range []golden{{
		name: "string",
		typ:  strTail,
		data: le{}.u64(5).str("hello\x00junk", 10),
		json: `{"len":5,"data":"hello"}`,
		text: "               5 hello",
	}, {
		name: "string-no-nul",
		typ:  strTail,
		data: le{}.u64(2).str("hi", 2),
		json: `{"len":2,"data":"hi"}`,
	}, {
		name: "string-empty",
		typ:  strTail,
		data: le{}.u64(0),
		json: `{"len":0,"data":""}`,
	}, {
		// vals starts inside the struct's tail padding; the last odd
		// byte is no whole element.
		name: "numbers",
		typ:  numTail,
		data: le{}.u32(3).u16(0).u16(10).u16(20).u16(30).u8(0xff),
		json: `{"n":3,"pad":0,"vals":[10,20,30]}`,
		text: "      3     0 [10,20,30]",
	}, {
		name: "numbers-none",
		typ:  numTail,
		data: le{}.u32(0).u16(0).u16(0),
		json: `{"n":0,"pad":0,"vals":[0]}`,
	}, {
		name: "capped",
		typ:  numTail,
		opts: &Options{MaxValues: 5},
		data: le{}.u32(3).u16(0).u16(1).u16(2).u16(3).u16(4).u16(5).u16(6).u16(7),
		json: `{"n":3,"pad":0,"vals":[1,2,3,4,5]}`,
	}} {
		t.Run(g.name, g.check)
	}
}

func TestDatasec(t *testing.T) {
	a := &btf.Var{Name: "targ_pid", Type: tPid}
	b := &btf.Var{Name: "name", Type: arr(tChar, 4)}
	ds := &btf.Datasec{Name: ".rodata", Size: 0, Vars: []btf.VarSecinfo{
		{Type: a, Offset: 0, Size: 4}, {Type: b, Offset: 4, Size: 4},
	}}
	golden{typ: ds, data: le{}.u32(42).str("ab", 4), json: `{"targ_pid":42,"name":"ab"}`, text: "      42 ab"}.check(t)
	golden{typ: b, data: le{}.str("xyz", 4), json: `"xyz"`, text: "xyz"}.check(t)
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cols := d.Columns(); len(cols) != 1 || cols[0] != (Column{Name: "VALUE", Width: 5, Align: AlignLeft}) {
		t.Errorf("columns of a lone char[4]: %+v", cols)
	}
}

func TestBigEndian(t *testing.T) {
	typ := st("be", 32, mem("a", tUShort, 0), mem("b", tInt, 2), mem("c", tU64, 6), mem("d", tI128, 14))
	data := []byte{0x12, 0x34, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd6, 0, 0}
	golden{typ: typ, data: data, opts: &Options{ByteOrder: binary.BigEndian},
		json: `{"a":4660,"b":-2,"c":256,"d":-42}`}.check(t)
}

func TestColumns(t *testing.T) {
	state := &btf.Enum{Name: "state", Size: 4, Values: []btf.EnumValue{{Name: "TASK_RUNNING", Value: 0}}}
	typ := st("event", 64,
		mem("pid", tPid, 0), mem("ts", tU64, 8), mem("comm", arr(tChar, 16), 16),
		mem("state", state, 32), mem("ok", tBool, 36), mem("f", tDouble, 40),
		mem("p", tVoidPtr, 48), mem("xy", arr(tInt, 2), 56))
	d, err := New(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{
		{"PID", "pid", 7, AlignRight}, {"TS", "ts", 16, AlignRight}, {"COMM", "comm", 16, AlignLeft},
		{"STATE", "state", 12, AlignLeft}, {"OK", "ok", 5, AlignLeft}, {"F", "f", 12, AlignRight},
		{"P", "p", 18, AlignLeft}, {"XY", "xy", 2, AlignLeft},
	}
	got := d.Columns()
	if len(got) != len(want) {
		t.Fatalf("columns: %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	header := string(d.AppendHeader(nil))
	wantHeader := "    PID               TS COMM             STATE        OK               F P                  XY"
	if header != wantHeader {
		t.Errorf("header:\n got %q\nwant %q", header, wantHeader)
	}
	row, err := d.AppendText(nil, le{}.u32(1234).u32(0).u64(987654321).str("bash", 16).u32(0).u8(1).str("", 3).
		u64(math.Float64bits(2.5)).u64(0x1000).u32(1).u32(2))
	if err != nil {
		t.Fatal(err)
	}
	wantRow := "   1234        987654321 bash             TASK_RUNNING true           2.5 0x1000             [1,2]"
	if string(row) != wantRow {
		t.Errorf("row:\n got %q\nwant %q", row, wantRow)
	}
}

func TestUnsupported(t *testing.T) {
	cyc := st("cyc", 8)
	cyc.Members = []btf.Member{mem("self", cyc, 0)}
	deep := btf.Type(tInt)
	for range 40 {
		deep = st("d", 4, mem("x", deep, 0))
	}
	shared := btf.Type(tU64)
	for range 30 {
		shared = &btf.Union{Size: 8, Members: []btf.Member{mem("a", shared, 0), mem("b", shared, 0)}}
	}
	for _, typ := range []btf.Type{
		&btf.Void{},
		&btf.Func{Name: "f", Type: &btf.FuncProto{}},
		&btf.FuncProto{Return: tInt},
		&btf.Fwd{Name: "task_struct"},
		st("empty", 0),
		st("fwd", 8, mem("t", &btf.Fwd{Name: "x"}, 0)),
		st("past", 4, mem("x", tU64, 0)),
		st("bitpast", 4, bitf("x", tUInt, 30, 3)),
		st("bitwide", 4, bitf("x", tUShort, 0, 17)),
		st("bitstruct", 4, bitf("x", st("in", 4), 1, 3)),
		arr(tInt, 0),
		cyc,
		deep,
		shared,
		&btf.Int{Name: "huge", Size: 32},
		&btf.Enum{Name: "odd", Size: 3},
		arr(arr(arr(tU64, 1<<20), 1<<20), 1<<20),
		nil,
	} {
		if d, err := New(typ, nil); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("New(%v) = %v, %v", typ, d, err)
		}
	}
}

func TestAllocs(t *testing.T) {
	d, data := benchEvent(t)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = d.AppendJSON(buf[:0], data) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = d.AppendText(buf[:0], data) }); n != 0 {
		t.Errorf("AppendText allocates %v times", n)
	}
}

func TestAppendCell(t *testing.T) {
	typ := st("ev", 24,
		mem("pid", &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}, 0),
		mem("comm", arr(&btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}, 16), 4),
		mem("n", &btf.Int{Name: "unsigned int", Size: 4}, 20))
	d, err := New(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 24)
	data[0] = 0xff
	data[1], data[2], data[3] = 0xff, 0xff, 0xff
	copy(data[4:], "a b")
	data[20] = 7
	var got []string
	for i := range d.Columns() {
		c, err := d.AppendCell(nil, data, i)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(c))
	}
	if strings.Join(got, "|") != "-1|a b|7" {
		t.Fatalf("cells %q", got)
	}
	w := d.WithoutColumns("comm")
	if row, _ := w.AppendText(nil, data); string(row) != "     -1       7" {
		t.Errorf("WithoutColumns text %q", row)
	}
	if h := w.AppendHeader(nil); string(h) != "    PID       N" {
		t.Errorf("WithoutColumns header %q", h)
	}
	if js, _ := w.AppendJSON(nil, data); !strings.Contains(string(js), `"comm":"a b"`) {
		t.Errorf("WithoutColumns changed JSON: %s", js)
	}
	// A member past the end of a short event is an empty cell.
	if c, err := d.AppendCell(nil, data[:3], 0); err != nil || len(c) != 0 {
		t.Fatalf("short data: %q, %v", c, err)
	}
	if c, err := d.AppendCell(nil, data[:6], 1); err != nil || string(c) != "a " {
		t.Fatalf("cut string: %q, %v", c, err)
	}
	if _, err := d.AppendCell(nil, data, 3); err == nil {
		t.Fatal("column out of range: no error")
	}
}

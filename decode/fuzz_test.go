package decode

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/cilium/ebpf/btf"
)

// typeGen builds a random BTF type tree from fuzz input bytes: a small
// deterministic generator of ints, chars, bools, enums, floats, pointers,
// arrays, structs and unions with bitfields and anonymous members,
// typedefs and qualifiers, datasecs, shared subtrees, cycles and a few
// types without a value. Most types are laid out as a compiler would, some
// deliberately not.
type typeGen struct {
	in      []byte
	made    []btf.Type    // for shared subtrees
	parents []*btf.Struct // for cycles
	budget  int
}

func (g *typeGen) byte() byte {
	if len(g.in) == 0 {
		return 0
	}
	b := g.in[0]
	g.in = g.in[1:]
	return b
}

func (g *typeGen) pick(n int) int { return int(g.byte()) % n }

func (g *typeGen) name(prefix string) string {
	names := []string{"a", "pid", "comm", "x", "", "ts", "\"q\"\\\n", "ä", "\xff",
		"saddr", "daddr_v4", "daddr_v6", "af", "family"}
	return prefix + names[g.pick(len(names))]
}

func (g *typeGen) typ(depth int) btf.Type {
	g.budget--
	k := g.pick(16)
	if depth > 4 || g.budget < 0 {
		k %= 5
	}
	var t btf.Type
	switch k {
	case 0, 1:
		sizes := []uint32{1, 2, 4, 8, 16, 3, 0, 32}
		encs := []btf.IntEncoding{btf.Unsigned, btf.Signed, btf.Char, btf.Bool, btf.Signed | btf.Char}
		t = &btf.Int{Name: g.name("i"), Size: sizes[g.pick(6+g.pick(3))], Encoding: encs[g.pick(len(encs))]}
	case 2:
		t = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	case 3:
		sizes := []uint32{1, 2, 4, 8, 3}
		e := &btf.Enum{Name: g.name("e"), Size: sizes[g.pick(4+g.pick(2))], Signed: g.pick(2) == 0}
		for range g.pick(6) {
			v := uint64(g.byte()) - 2
			if g.pick(4) == 0 {
				v <<= 40
			}
			e.Values = append(e.Values, btf.EnumValue{Name: g.name("E"), Value: v})
		}
		t = e
	case 4:
		sizes := []uint32{2, 4, 8, 16, 12, 0}
		t = &btf.Float{Name: "f", Size: sizes[g.pick(4+g.pick(3))]}
	case 5:
		t = &btf.Pointer{Target: g.typ(depth + 1)}
	case 6:
		n := uint32(g.pick(5))
		if g.pick(8) == 0 {
			n = uint32(g.byte()) << 8
		}
		t = &btf.Array{Index: &btf.Int{Size: 4}, Type: g.typ(depth + 1), Nelems: n}
	case 7:
		t = &btf.Array{Index: &btf.Int{Size: 4}, Type: &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}, Nelems: uint32(g.pick(20))}
	case 8, 9:
		t = g.composite(depth, false)
	case 10:
		t = g.composite(depth, true)
	case 11:
		inner := g.typ(depth + 1)
		switch g.pick(5) {
		case 0:
			names := []string{g.name("t"), "__be16", "__be32", "__le64", "ecc_ipv4_t", "ecc_ipv6_t", "ecc_ip_t"}
			t = &btf.Typedef{Name: names[g.pick(len(names))], Type: inner}
		case 1:
			t = &btf.Const{Type: inner}
		case 2:
			t = &btf.Volatile{Type: inner}
		case 3:
			t = &btf.Restrict{Type: inner}
		default:
			t = &btf.TypeTag{Value: "user", Type: inner}
		}
	case 12:
		if len(g.made) > 0 {
			return g.made[g.pick(len(g.made))]
		}
		t = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	case 13:
		if len(g.parents) > 0 {
			return g.parents[g.pick(len(g.parents))]
		}
		t = &btf.Void{}
	case 14:
		switch g.pick(3) {
		case 0:
			t = &btf.Void{}
		case 1:
			t = &btf.FuncProto{Return: &btf.Void{}}
		default:
			t = &btf.Fwd{Name: "fwd"}
		}
	default:
		ds := &btf.Datasec{Name: ".data"}
		var off uint32
		for range g.pick(4) {
			vt := g.typ(depth + 1)
			size, _ := btf.Sizeof(vt)
			ds.Vars = append(ds.Vars, btf.VarSecinfo{Type: &btf.Var{Name: g.name("v"), Type: vt}, Offset: off, Size: uint32(size)})
			off += uint32(size)
		}
		t = ds
	}
	g.made = append(g.made, t)
	return t
}

func (g *typeGen) composite(depth int, union bool) btf.Type {
	s := &btf.Struct{Name: g.name("s")}
	g.parents = append(g.parents, s)
	var bit uint32 // next free bit
	var size uint32
	for range g.pick(6) {
		m := btf.Member{Name: g.name("m")}
		if g.pick(4) == 0 {
			// A bitfield of an integer or enum.
			base := g.typ(5)
			m.Type = base
			bsize, _ := btf.Sizeof(base)
			m.BitfieldSize = btf.Bits(1 + g.pick(max(1, bsize*8)))
			if g.pick(8) == 0 {
				m.BitfieldSize = btf.Bits(g.byte())
			}
			if !union {
				m.Offset = btf.Bits(bit)
			}
			bit += uint32(m.BitfieldSize)
		} else {
			m.Type = g.typ(depth + 1)
			msize, _ := btf.Sizeof(m.Type)
			off := (bit + 7) / 8
			if align := uint32(min(max(msize, 1), 8)); align&(align-1) == 0 {
				off = (off + align - 1) &^ (align - 1)
			}
			if union {
				off = 0
			}
			if g.pick(16) == 0 {
				off = uint32(g.byte()) // anywhere
			}
			m.Offset = btf.Bits(off * 8)
			if g.pick(32) == 0 {
				m.Offset += btf.Bits(g.pick(8))
			}
			bit = max(bit, (off+uint32(msize))*8)
			if union {
				bit = 0
			}
			size = max(size, off+uint32(msize))
		}
		size = max(size, (bit+7)/8)
		s.Members = append(s.Members, m)
	}
	g.parents = g.parents[:len(g.parents)-1]
	size = (size + 7) &^ 7
	switch g.pick(16) {
	case 0:
		size = uint32(g.byte()) // may cut members off
	case 1:
		size += uint32(g.pick(16))
	}
	s.Size = size
	if union {
		return &btf.Union{Name: s.Name, Size: s.Size, Members: s.Members}
	}
	return s
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{8, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("\x08\x05\x01\x00\x07\x10\x03\x02\x01\x03\x00\x06\x03\x00\x01\x02\x03\x04\x05\x06\x07"))
	f.Add(bytes.Repeat([]byte{9, 4, 3, 0, 0, 1, 6, 2, 1}, 8))
	f.Add(bytes.Repeat([]byte{10, 3, 11, 8, 2, 13, 0xff}, 10))
	f.Add([]byte("\x08\x04\x00\x00\x01\x01\x00\x00\x03\x03\x02\x05\x00\x07\x10bash\x00\x00\x00\xff\xff\x80\x01\x02"))
	f.Fuzz(func(t *testing.T, in []byte) {
		g := typeGen{in: in, budget: 64}
		order := binary.ByteOrder(binary.LittleEndian)
		if g.pick(2) == 1 {
			order = binary.BigEndian
		}
		typ := g.typ(0)
		opts := &Options{ByteOrder: order, MaxValues: 1 << 14, Plain: g.pick(8) == 0}
		for range g.pick(3) {
			if opts.Formats == nil {
				opts.Formats = map[string]map[string]Format{}
			}
			s, m := g.name("s"), g.name("m")
			if opts.Formats[s] == nil {
				opts.Formats[s] = map[string]Format{}
			}
			opts.Formats[s][m] = append(formats, "bogus")[g.pick(len(formats)+1)]
		}
		d, err := New(typ, opts)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedType) {
				t.Fatalf("New: error not wrapping ErrUnsupportedType: %v", err)
			}
			return
		}
		if d.Size() <= 0 {
			t.Fatalf("Size = %d", d.Size())
		}
		// The event: the rest of the input, repeated to the type's size,
		// plus up to 15 bytes more.
		n := d.Size() + g.pick(16)
		data := make([]byte, n)
		if len(g.in) > 0 {
			for i := range data {
				data[i] = g.in[i%len(g.in)]
			}
		}

		// Every length prints, short ones as far as they go.
		cut := g.pick(d.Size() + 1)
		for _, ev := range [][]byte{data, data[:d.Size()], data[:d.Size()-1], data[:cut], nil} {
			out, err := d.AppendJSON([]byte("x"), ev)
			if err != nil {
				t.Fatalf("AppendJSON: %v", err)
			}
			if out[0] != 'x' {
				t.Fatalf("dst clobbered")
			}
			if !json.Valid(out[1:]) {
				t.Fatalf("invalid JSON for %v:\n%s", typ, out[1:])
			}
			text, err := d.AppendText(nil, ev)
			if err != nil {
				t.Fatalf("AppendText: %v", err)
			}
			if !utf8.Valid(text) {
				t.Fatalf("text is not UTF-8: %q", text)
			}
			for _, c := range text {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("control character in text: %q", text)
				}
			}
		}
		header := d.AppendHeader(nil)
		if len(bytes.Fields(header)) < len(d.Columns()) {
			t.Fatalf("header %q for %d columns", header, len(d.Columns()))
		}

		// Bytes past the end change nothing but a flexible array.
		if !hasFlex(d) {
			a, _ := d.AppendJSON(nil, data)
			b, _ := d.AppendJSON(nil, data[:d.Size()])
			if !bytes.Equal(a, b) {
				t.Fatalf("trailing bytes changed the output:\n%s\n%s", a, b)
			}
		}
	})
}

func hasFlex(d *Decoder) bool {
	for _, f := range d.cells {
		if f.node.kind == kFlex || f.node.kind == kFlexStr {
			return true
		}
	}
	return false
}

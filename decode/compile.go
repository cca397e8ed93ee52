package decode

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/ctype"
)

// maxSize bounds the size of a decodable type, so that every offset fits
// in an int on all platforms and every bit offset in a uint32.
const maxSize = 1 << 28

// maxFields bounds the members of one struct or union, after anonymous
// members are flattened.
const maxFields = 1 << 16

// maxResolve bounds chains of typedefs and qualifiers.
const maxResolve = 64

type kind uint8

const (
	kU8 kind = iota
	kU16
	kU32
	kU64
	kS8
	kS16
	kS32
	kS64
	kU128    // unsigned integer of any other size up to 16 bytes
	kS128    // signed integer of any other size up to 16 bytes
	kBool    // integer with the Bool encoding: false when all bytes are 0
	kEnum    // enumerator name, or the number
	kBits    // bitfield
	kF16     // IEEE 754 half
	kF32     // IEEE 754 single
	kF64     // IEEE 754 double
	kFRaw    // float of another size: its bytes in hex
	kPtr     // pointer: hex address
	kString  // char[N]: up to the first NUL
	kArray   // elem × n
	kStruct  // fields, also datasecs
	kUnion   // fields, all over the same bytes
	kFlex    // trailing flexible array member: as many elems as data holds
	kFlexStr // trailing flexible char array: up to the first NUL or the end

	// Kinds made by conventions and formats (conventions.go).
	kOrdered  // unsigned integer of 2, 4 or 8 bytes in a fixed byte order (__be16, ...)
	kIPv4     // 4 bytes in memory (network) order: 1.2.3.4
	kIPv6     // 16 bytes: ::1
	kInet     // 16 bytes: IPv4 in the first 4 when the family member says AF_INET, else IPv6
	kHex      // unsigned integer of 1, 2, 4 or 8 bytes in hex: 0x1f
	kHexBytes // bytes in memory order, in hex: 0x0a0b
)

// node is the compiled plan for one type. Nodes for types are shared
// between the places that use the type; bitfield nodes belong to their
// member.
type node struct {
	kind kind
	size uint32 // bytes the value occupies (0 for flexible arrays)
	// cost is the number of values one event expands to (saturating).
	cost uint64

	// kBits: the value is bitSize bits starting bitOff bits into nbytes
	// bytes at the member's byte offset.
	bitOff, bitSize, nbytes uint8
	signed                  bool // kBits, kEnum: sign-extend
	boolean                 bool // kBits: print true/false
	enum                    *enumTable

	elem *node  // kArray, kFlex
	n    uint32 // kArray: number of elements

	fields []field // kStruct, kUnion
	// conds: some fields print only when a family member selects them.
	conds bool

	order byteOrder // kOrdered, kHex: the byte order of the value
	fam   *famRef   // kInet: the family member, relative to the value
	// plain is, for nodes made by a format, the node of the type itself.
	plain *node
}

type field struct {
	off  uint32 // byte offset within the parent
	node *node  // how the member prints
	name string
	jkey string // `"name":`, with a leading ',' for all but the first field
	tkey string // `name=`, with a leading ' ' for all but the first field

	// typ is the node of the member's type, before member-name
	// conventions and formats; node is derived from it (annotate).
	typ *node
	// shape is the size of an address the member's type can hold (4 or
	// 16), 0 when it cannot (addrShape).
	shape uint32
	// sel, when set, shows the field only when the family member selects
	// it: the v4 and v6 members of an address pair.
	sel *selector
	// pair is 1 + the index of the other member of an address pair in
	// the parent's fields, 0 for none.
	pair int32
}

// enumTable maps values (as raw bits, masked to the enum's size) to
// enumerator names.
type enumTable struct {
	mask  uint64
	min   uint64
	dense []int32 // index into names by value-min, -1 when none; nil if sparse
	keys  []uint64
	names []enumName // sorted by value when sparse
}

type enumName struct {
	json string // quoted and escaped
	text string // escaped for the text format
}

func (e *enumTable) lookup(v uint64) *enumName {
	v &= e.mask
	if e.dense != nil {
		if i := v - e.min; i < uint64(len(e.dense)) {
			if j := e.dense[i]; j >= 0 {
				return &e.names[j]
			}
		}
		return nil
	}
	lo, hi := 0, len(e.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e.keys[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(e.keys) && e.keys[lo] == v {
		return &e.names[lo]
	}
	return nil
}

type compiler struct {
	memo      map[btf.Type]*node
	maxDepth  int
	maxValues uint64
	plain     bool
	formats   map[string]map[string]Format
}

func (c *compiler) checkCost(n *node) error {
	if n.cost > c.maxValues {
		return errorf("type expands to more than %d values", c.maxValues)
	}
	return nil
}

// inProgress marks a type being compiled, to detect cycles.
var inProgress = &node{}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedType}, args...)...)
}

// resolve skips typedefs, qualifiers and vars.
func resolve(t btf.Type) (btf.Type, error) {
	for range maxResolve {
		switch v := t.(type) {
		case *btf.Typedef:
			t = v.Type
		case *btf.Const:
			t = v.Type
		case *btf.Volatile:
			t = v.Type
		case *btf.Restrict:
			t = v.Type
		case *btf.TypeTag:
			t = v.Type
		case *btf.Var:
			t = v.Type
		case nil:
			return nil, errorf("nil type")
		default:
			return t, nil
		}
	}
	return nil, errorf("typedefs and qualifiers nest deeper than %d", maxResolve)
}

// isChar reports whether t, with qualifiers but not typedefs skipped, is
// the 1-byte C type char or unsigned char: so char[N] and unsigned
// char[N] are strings while __u8[N] (a typedef of unsigned char) and
// signed char[N] are numbers.
func isChar(t btf.Type) bool {
	switch ctype.CharOf(t) {
	case ctype.PlainChar, ctype.UnsignedChar:
		return true
	}
	return false
}

// isPlainChar is isChar without unsigned char: the arrays that may hold
// the text of an address rather than its bytes.
func isPlainChar(t btf.Type) bool {
	return ctype.CharOf(t) == ctype.PlainChar
}

func (c *compiler) compile(t btf.Type, depth int) (*node, error) {
	if depth > c.maxDepth {
		return nil, errorf("types nest deeper than %d", c.maxDepth)
	}
	if !c.plain {
		if td := formatTypedef(t); td != nil {
			return c.compileTypedef(td, depth)
		}
	}
	t, err := resolve(t)
	if err != nil {
		return nil, err
	}
	if n, ok := c.memo[t]; ok {
		if n == inProgress {
			return nil, errorf("%v contains itself", t)
		}
		return n, nil
	}
	c.memo[t] = inProgress
	n, err := c.compileType(t, depth)
	if err != nil {
		delete(c.memo, t)
		return nil, err
	}
	c.memo[t] = n
	return n, nil
}

func (c *compiler) compileType(t btf.Type, depth int) (*node, error) {
	switch t := t.(type) {
	case *btf.Int:
		return intNode(t)

	case *btf.Enum:
		return enumNode(t)

	case *btf.Float:
		n := &node{size: t.Size, cost: 1}
		switch t.Size {
		case 2:
			n.kind = kF16
		case 4:
			n.kind = kF32
		case 8:
			n.kind = kF64
		default:
			if t.Size == 0 || t.Size > 16 {
				return nil, errorf("float %q of size %d", t.Name, t.Size)
			}
			n.kind = kFRaw
		}
		return n, nil

	case *btf.Pointer:
		return &node{kind: kPtr, size: 8, cost: 1}, nil

	case *btf.Array:
		if isChar(t.Type) {
			return &node{kind: kString, size: t.Nelems, cost: 1 + uint64(t.Nelems)/16}, nil
		}
		elem, err := c.compile(t.Type, depth+1)
		if err != nil {
			return nil, err
		}
		size := uint64(elem.size) * uint64(t.Nelems)
		if size > maxSize {
			return nil, errorf("array of %d × %d bytes is too large", t.Nelems, elem.size)
		}
		n := &node{kind: kArray, size: uint32(size), elem: elem, n: t.Nelems,
			cost: satAdd(1, satMul(elem.cost, uint64(t.Nelems)))}
		return n, c.checkCost(n)

	case *btf.Struct:
		return c.composite(kStruct, t.Name, t.Size, t.Members, depth)

	case *btf.Union:
		return c.composite(kUnion, t.Name, t.Size, t.Members, depth)

	case *btf.Datasec:
		members := make([]btf.Member, 0, len(t.Vars))
		size := t.Size
		for _, v := range t.Vars {
			name := ""
			if vv, ok := v.Type.(*btf.Var); ok {
				name = vv.Name
			}
			if v.Offset > maxSize || v.Size > maxSize {
				return nil, errorf("datasec %q: variable %q at offset %d", t.Name, name, v.Offset)
			}
			members = append(members, btf.Member{Name: name, Type: v.Type, Offset: btf.Bits(v.Offset * 8)})
			// Object files leave datasec sizes to the loader.
			size = max(size, v.Offset+v.Size)
		}
		return c.composite(kStruct, "", size, members, depth)

	default:
		return nil, errorf("%v has no value", t)
	}
}

func intNode(t *btf.Int) (*node, error) {
	signed := t.Encoding&btf.Signed != 0
	n := &node{size: t.Size, cost: 1, signed: signed}
	switch {
	case t.Size == 0 || t.Size > 16:
		return nil, errorf("integer %q of size %d", t.Name, t.Size)
	case t.Encoding&btf.Bool != 0:
		n.kind = kBool
	case t.Size == 1:
		n.kind = pick(signed, kS8, kU8)
	case t.Size == 2:
		n.kind = pick(signed, kS16, kU16)
	case t.Size == 4:
		n.kind = pick(signed, kS32, kU32)
	case t.Size == 8:
		n.kind = pick(signed, kS64, kU64)
	default:
		n.kind = pick(signed, kS128, kU128)
	}
	return n, nil
}

func pick(signed bool, s, u kind) kind {
	if signed {
		return s
	}
	return u
}

func enumNode(t *btf.Enum) (*node, error) {
	switch t.Size {
	case 1, 2, 4, 8:
	default:
		return nil, errorf("enum %q of size %d", t.Name, t.Size)
	}
	mask := uint64(math.MaxUint64) >> (64 - 8*t.Size)
	tab := &enumTable{mask: mask}
	type entry struct {
		v    uint64
		name string
	}
	entries := make([]entry, 0, len(t.Values))
	for _, v := range t.Values {
		entries = append(entries, entry{v.Value & mask, v.Name})
	}
	// The first enumerator of a value wins.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].v < entries[j].v })
	uniq := entries[:0]
	for i, e := range entries {
		if i > 0 && e.v == uniq[len(uniq)-1].v {
			continue
		}
		uniq = append(uniq, e)
	}
	for _, e := range uniq {
		tab.keys = append(tab.keys, e.v)
		tab.names = append(tab.names, enumName{
			json: string(appendJSONString(nil, []byte(e.name))),
			text: string(appendTextString(nil, []byte(e.name))),
		})
	}
	if len(uniq) > 0 {
		if span := uniq[len(uniq)-1].v - uniq[0].v; span < 256 || span < 2*uint64(len(uniq)) {
			tab.min = uniq[0].v
			tab.dense = make([]int32, span+1)
			for i := range tab.dense {
				tab.dense[i] = -1
			}
			for i, e := range uniq {
				tab.dense[e.v-tab.min] = int32(i)
			}
		}
	}
	return &node{kind: kEnum, size: t.Size, cost: 1, signed: t.Signed, enum: tab}, nil
}

func (c *compiler) composite(k kind, name string, size uint32, members []btf.Member, depth int) (*node, error) {
	if size > maxSize {
		return nil, errorf("struct or union of %d bytes is too large", size)
	}
	n := &node{kind: k, size: size, cost: 1}
	for _, m := range members {
		if m.Offset/8 > maxSize {
			return nil, errorf("member %q at bit offset %d", m.Name, m.Offset)
		}
		off := uint32(m.Offset / 8)
		var sub *node
		var err error
		if m.BitfieldSize > 0 || m.Offset%8 != 0 {
			sub, err = c.bitfield(m)
			if err != nil {
				return nil, err
			}
		} else {
			sub, err = c.compile(m.Type, depth+1)
			if err != nil {
				if errors.Is(err, ErrUnsupportedType) && m.Name != "" {
					return nil, fmt.Errorf("member %q: %w", m.Name, err)
				}
				return nil, err
			}
		}
		if uint64(off)+uint64(sub.size) > uint64(size) {
			return nil, errorf("member %q (%d bytes at offset %d) ends past the end (%d bytes)", m.Name, sub.size, off, size)
		}
		n.cost = satAdd(n.cost, sub.cost)
		if m.Name == "" {
			// Anonymous structs and unions are flattened into their
			// parent, as C accesses their members; other anonymous
			// members (padding bitfields) are skipped.
			if sub.kind == kStruct || sub.kind == kUnion {
				if len(n.fields)+len(sub.fields) > maxFields {
					return nil, errorf("struct or union with more than %d members", maxFields)
				}
				for _, f := range sub.fields {
					n.fields = append(n.fields, field{off: off + f.off, node: f.node, typ: f.typ, shape: f.shape, name: f.name})
				}
			} else {
				n.cost -= sub.cost
			}
			continue
		}
		var shape uint32
		if m.BitfieldSize == 0 && m.Offset%8 == 0 {
			shape = addrShape(m.Type)
		}
		n.fields = append(n.fields, field{off: off, node: sub, typ: sub, shape: shape, name: m.Name})
		if len(n.fields) > maxFields {
			return nil, errorf("struct or union with more than %d members", maxFields)
		}
		if err := c.checkCost(n); err != nil {
			return nil, err
		}
	}
	if err := c.annotate(n, name); err != nil {
		return nil, err
	}
	for i := range n.fields {
		f := &n.fields[i]
		jkey := appendJSONString(nil, []byte(f.name))
		tkey := appendTextString(nil, []byte(f.name))
		if i > 0 {
			jkey = append([]byte{','}, jkey...)
			tkey = append([]byte{' '}, tkey...)
		}
		f.jkey = string(append(jkey, ':'))
		f.tkey = string(append(tkey, '='))
	}
	return n, nil
}

func (c *compiler) bitfield(m btf.Member) (*node, error) {
	t, err := resolve(m.Type)
	if err != nil {
		return nil, err
	}
	bits := m.BitfieldSize
	n := &node{kind: kBits, cost: 1}
	var size uint32
	switch t := t.(type) {
	case *btf.Int:
		size = t.Size
		n.signed = t.Encoding&btf.Signed != 0
		n.boolean = t.Encoding&btf.Bool != 0
	case *btf.Enum:
		e, err := enumNode(t)
		if err != nil {
			return nil, err
		}
		size = t.Size
		n.signed = t.Signed
		n.enum = e.enum
	default:
		return nil, errorf("bitfield %q of %v", m.Name, t)
	}
	if bits == 0 {
		bits = btf.Bits(size * 8) // a misaligned whole integer
	}
	if size == 0 || size > 16 || bits > btf.Bits(size*8) {
		return nil, errorf("bitfield %q of %d bits in %d bytes", m.Name, bits, size)
	}
	n.bitOff = uint8(m.Offset % 8)
	n.bitSize = uint8(bits)
	n.nbytes = uint8((uint32(n.bitOff) + uint32(bits) + 7) / 8)
	n.size = uint32(n.nbytes)
	return n, nil
}

// withFlex returns root with a trailing zero-length array member turned
// into a flexible array, which prints the elements the event data holds.
func withFlex(root *node) *node {
	if root.kind != kStruct || len(root.fields) == 0 {
		return root
	}
	last := root.fields[len(root.fields)-1]
	if last.node.kind == kArray && last.node.n == 0 && last.node.elem.size > 0 {
		flex := *last.node
		flex.kind = kFlex
		last.node = &flex
	} else if last.node.kind == kString && last.node.size == 0 {
		flex := *last.node
		flex.kind = kFlexStr
		last.node = &flex
	} else {
		return root
	}
	r := *root
	r.fields = append([]field(nil), root.fields...)
	r.fields[len(r.fields)-1] = last
	return &r
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

func satMul(a, b uint64) uint64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxUint64/b {
		return math.MaxUint64
	}
	return a * b
}

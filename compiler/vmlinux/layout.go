package vmlinux

import "fmt"

// alignOf returns the alignment of id in bytes as a C compiler would lay it
// out from the BTF description, 1 for records that must be packed, and 0
// when it is unknown (void, forward declarations, functions).
func (d *dumper) alignOf(id int32, depth int) int64 {
	for ; depth <= maxDepth; depth++ {
		n := &d.nodes[id]
		switch n.kind {
		case kindInt:
			if n.size == 16 {
				// clang aligns __int128 to 16 bytes, also for BPF.
				return 16
			}
			return min(ptrSize, int64(n.size))
		case kindEnum, kindFloat:
			return min(ptrSize, int64(n.size))
		case kindPtr:
			return ptrSize
		case kindTypedef:
			if n.name == "__builtin_va_list" {
				// Not written out (it is a compiler builtin): what
				// counts is the BPF target's, a pointer.
				return ptrSize
			}
			id = n.ref
			continue
		case kindVolatile, kindConst, kindRestrict, kindTypeTag, kindArray:
			id = n.ref
			continue
		case kindStruct, kindUnion:
			if n.align > 0 {
				return int64(n.align - 1)
			}
			if n.align < 0 {
				d.fail(fmt.Errorf("%s contains itself", d.describe(id)))
				return 0
			}
			n.align = -1
			a := d.recordAlign(id, depth+1)
			d.nodes[id].align = int16(a + 1)
			return a
		default:
			return 0
		}
	}
	d.fail(fmt.Errorf("%s: %w", d.describe(id), errTooDeep))
	return 0
}

func (d *dumper) recordAlign(id int32, depth int) int64 {
	n := &d.nodes[id]
	maxAlign := int64(1)
	for _, f := range d.fields[n.first : n.first+n.vlen] {
		a := d.alignOf(f.typ, depth)
		if a <= 0 {
			return 0
		}
		maxAlign = max(maxAlign, a)
		// A misaligned member means the record is packed.
		if f.bits == 0 && int64(f.off)%(8*a) != 0 {
			return 1
		}
	}
	if int64(n.size)%maxAlign != 0 {
		return 1
	}
	return min(maxAlign, 1<<14)
}

// sizeOf returns the size of id in bytes, or 0 if it has none.
func (d *dumper) sizeOf(id int32) int64 {
	mult := int64(1)
	for depth := 0; depth <= maxDepth; depth++ {
		n := &d.nodes[id]
		switch n.kind {
		case kindInt, kindEnum, kindFloat, kindStruct, kindUnion:
			return mult * int64(n.size)
		case kindPtr:
			return mult * ptrSize
		case kindTypedef:
			if n.name == "__builtin_va_list" {
				// See alignOf.
				return mult * ptrSize
			}
			id = n.ref
		case kindVolatile, kindConst, kindRestrict, kindTypeTag:
			id = n.ref
		case kindArray:
			if mult > 0 && int64(n.nelems) > (1<<32)/mult {
				return 0
			}
			mult *= int64(n.nelems)
			id = n.ref
		default:
			return 0
		}
	}
	return 0
}

// unionPadding adds an unnamed member to a union so that it spans bits
// bits: BTF may record a union larger than its members (pahole drops
// members it cannot describe, unions may be over-aligned). Unnamed
// bitfields make the union bigger without changing its alignment.
func (d *dumper) unionPadding(bits int64, lvl int) {
	d.byte('\n')
	d.indent(lvl)
	if bits <= ptrSize*8 {
		switch {
		case bits <= 8:
			d.str("char: ")
		case bits <= 16:
			d.str("short: ")
		case bits <= 32:
			d.str("int: ")
		default:
			d.str("long: ")
		}
		d.int(bits)
		d.byte(';')
		return
	}
	d.str("struct {")
	d.padding(0, bits, 1, false, lvl+1)
	d.byte('\n')
	d.indent(lvl)
	d.str("};")
}

// isPacked reports whether a struct or union needs __attribute__((packed))
// to get the member offsets and the size BTF records.
func (d *dumper) isPacked(id int32) bool {
	n := &d.nodes[id]
	maxAlign := int64(1)
	for _, f := range d.fields[n.first : n.first+n.vlen] {
		a := d.alignOf(f.typ, 0)
		if a != 0 && f.bits == 0 && int64(f.off)%(8*a) != 0 {
			return true
		}
		maxAlign = max(maxAlign, a)
	}
	return int64(n.size)%maxAlign != 0
}

// padding fills the bits from cur to next with anonymous bitfields, which
// add no alignment requirement of their own. nextAlign is the alignment of
// the member that follows, in bytes.
func (d *dumper) padding(cur, next, nextAlign int64, inBitfield bool, lvl int) {
	if cur >= next {
		return
	}
	if next-cur > maxGap {
		d.fail(fmt.Errorf("%d bytes of padding needed: size or offset out of range", (next-cur)/8))
		return
	}
	type pad struct {
		name string
		bits int64
	}
	pads := [...]pad{{"long", ptrSize * 8}, {"int", 32}, {"short", 16}, {"char", 8}}

	// Use the widest type whose natural alignment we can reach without
	// passing next; the compiler then aligns for us where it can.
	var p pad
	var aligned int64
	for _, p = range pads {
		aligned = roundUp(cur, p.bits)
		if aligned <= next {
			break
		}
	}
	if aligned > cur && aligned <= next {
		// An explicit "type: 0" is needed when the compiler would not
		// align there by itself: after a bitfield, when the next member
		// is less aligned, or when the rest of the gap is no bigger than
		// the part alignment would skip.
		if inBitfield ||
			(aligned == next && roundUp(cur, nextAlign*8) != aligned) ||
			(aligned != next && next-aligned <= aligned-cur) {
			d.byte('\n')
			d.indent(lvl)
			d.str(p.name)
			d.str(": ")
			if inBitfield {
				d.int(aligned - cur)
			} else {
				d.byte('0')
			}
			d.byte(';')
		}
		cur = aligned
	}
	for cur < next {
		bits := min(next-cur, p.bits)
		if bits < p.bits {
			// Use the smallest type that holds the remainder.
			for i := len(pads) - 1; i >= 0; i-- {
				if pads[i].bits >= bits {
					p = pads[i]
					break
				}
			}
		}
		d.byte('\n')
		d.indent(lvl)
		d.str(p.name)
		d.str(": ")
		d.int(bits)
		d.byte(';')
		cur += bits
	}
}

func roundUp(v, to int64) int64 {
	if to <= 0 {
		return v
	}
	return (v + to - 1) / to * to
}

// recordDef writes the definition of a struct or union, without the
// trailing semicolon.
func (d *dumper) recordDef(id int32, lvl int) {
	n := &d.nodes[id]
	isStruct := n.kind == kindStruct
	size, vlen, first := int64(n.size), n.vlen, n.first
	align := d.alignOf(id, 0)
	packed := d.isPacked(id)

	d.recordFwd(id)
	d.str(" {")
	var off, end int64
	prevBitfield := false
	for i := first; i < first+vlen; i++ {
		if d.err != nil {
			return
		}
		if d.flushed+len(d.buf) > maxOutput {
			d.fail(fmt.Errorf("header larger than %d bytes", maxOutput))
			return
		}
		f := d.fields[i]
		bits, foff := int64(f.bits), int64(f.off)
		falign := int64(1)
		if !packed {
			falign = d.alignOf(f.typ, 0)
		}
		d.padding(off, foff, falign, prevBitfield && bits != 0, lvl+1)
		d.byte('\n')
		d.indent(lvl + 1)
		d.decl(f.typ, f.name, lvl+1)
		if bits != 0 {
			d.str(": ")
			d.int(bits)
			off = foff + bits
			prevBitfield = true
		} else {
			off = foff + d.sizeOf(f.typ)*8
			prevBitfield = false
		}
		end = max(end, off)
		d.byte(';')
	}
	if isStruct {
		d.padding(off, size*8, align, false, lvl+1)
	} else if end < size*8 {
		d.unionPadding(size*8, lvl+1)
	}
	if vlen > 0 || size > 0 {
		d.byte('\n')
		d.indent(lvl)
	}
	d.byte('}')
	if packed {
		d.str(" __attribute__((packed))")
	}
}

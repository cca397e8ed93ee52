package decode

import (
	"math"
	"strconv"
)

// text appends the value of n at data[off:] in the text format: scalars
// as in JSON but strings, enumerators and pointers unquoted, structs and
// unions as {a=1 b=2}, arrays as [1,2,3].
func (d *Decoder) text(dst, data []byte, off int, n *node) []byte {
	switch n.kind {
	case kEnum:
		v := d.uint(data, off, int(n.size))
		if e := n.enum.lookup(v); e != nil {
			return append(dst, e.text...)
		}
		return appendNumber(dst, v, n.size, n.signed)
	case kBits:
		return d.appendBits(dst, data, off, n, false)
	case kF16:
		return appendFloat(dst, f16(d.u16(data, off)), 32, false)
	case kF32:
		return appendFloat(dst, float64(f32(d.u32(data, off))), 32, false)
	case kF64:
		return appendFloat(dst, f64(d.u64(data, off)), 64, false)
	case kFRaw:
		return appendHexBytes(dst, data[off:off+int(n.size)])
	case kPtr:
		dst = append(dst, '0', 'x')
		return strconv.AppendUint(dst, d.u64(data, off), 16)
	case kString:
		return appendTextString(dst, cstring(data[off:off+int(n.size)]))
	case kFlexStr:
		return appendTextString(dst, cstring(data[off:]))
	case kArray:
		return d.textArray(dst, data, off, n.elem, int(n.n))
	case kFlex:
		return d.textArray(dst, data, off, n.elem, d.flexLen(data, off, n.elem))
	case kStruct, kUnion:
		if n.conds {
			return d.textFields(dst, data, off, n)
		}
		dst = append(dst, '{')
		for i := range n.fields {
			f := &n.fields[i]
			dst = append(dst, f.tkey...)
			dst = d.text(dst, data, off+int(f.off), f.node)
		}
		return append(dst, '}')
	case kIPv4, kIPv6, kInet, kHex, kHexBytes:
		return d.appendFormatted(dst, data, off, n)
	default:
		// Integers and bools print as in JSON.
		return d.json(dst, data, off, n)
	}
}

func (d *Decoder) textArray(dst, data []byte, off int, elem *node, count int) []byte {
	if elem.kind == kU8 {
		return d.jsonArray(dst, data, off, elem, count)
	}
	dst = append(dst, '[')
	stride := int(elem.size)
	for i := range count {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = d.text(dst, data, off+i*stride, elem)
	}
	return append(dst, ']')
}

// width suggests a text column width for values of n.
func (n *node) width() int {
	switch n.kind {
	case kU8:
		return 3
	case kS8:
		return 4
	case kU16:
		return 5
	case kS16:
		return 6
	case kU32, kS32:
		return 7 // pids, uids, errors; larger values push on
	case kU64, kS64:
		return 16
	case kOrdered:
		return map[uint32]int{2: 5, 4: 7, 8: 16}[n.size]
	case kIPv4, kInet:
		return 15 // 255.255.255.255; IPv6 addresses push on
	case kIPv6:
		return 25
	case kHex:
		return 2 + 2*int(n.size)
	case kHexBytes:
		return min(2+2*int(n.size), 34)
	case kU128, kS128:
		return 20
	case kBool:
		return 5
	case kEnum:
		w := 0
		for _, e := range n.enum.names {
			w = max(w, len(e.text))
		}
		return min(max(w, 4), 24)
	case kBits:
		if n.boolean {
			return 5
		}
		if n.enum != nil {
			return (&node{kind: kEnum, enum: n.enum}).width()
		}
		if n.bitSize > 32 {
			return 16
		}
		// The digits of the largest value, up to 7 like 4-byte integers.
		w := int(float64(n.bitSize)*math.Log10(2)) + 1
		if n.signed {
			w++
		}
		return min(w, 7)
	case kF16, kF32:
		return 10
	case kF64:
		return 12
	case kPtr:
		return 18 // 0x and 16 digits
	case kString:
		return min(int(n.size), 32)
	case kFlexStr:
		return 16
	}
	return 0
}

// align tells on which side a column of n's values pads.
func (n *node) align() Align {
	switch n.kind {
	case kU8, kU16, kU32, kU64, kS8, kS16, kS32, kS64, kU128, kS128, kF16, kF32, kF64, kOrdered:
		return AlignRight
	case kBits:
		if !n.boolean && n.enum == nil {
			return AlignRight
		}
	}
	return AlignLeft
}

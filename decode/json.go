package decode

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// json appends the value of n at data[off:]. New guarantees that every
// fixed-size read stays within d.size bytes, and the caller that data
// holds the whole value (reads of a family member are checked).
func (d *Decoder) json(dst, data []byte, off int, n *node) []byte {
	switch n.kind {
	case kU8:
		return strconv.AppendUint(dst, uint64(data[off]), 10)
	case kS8:
		return strconv.AppendInt(dst, int64(int8(data[off])), 10)
	case kU16:
		return strconv.AppendUint(dst, uint64(d.u16(data, off)), 10)
	case kS16:
		return strconv.AppendInt(dst, int64(int16(d.u16(data, off))), 10)
	case kU32:
		return strconv.AppendUint(dst, uint64(d.u32(data, off)), 10)
	case kS32:
		return strconv.AppendInt(dst, int64(int32(d.u32(data, off))), 10)
	case kU64:
		return strconv.AppendUint(dst, d.u64(data, off), 10)
	case kS64:
		return strconv.AppendInt(dst, int64(d.u64(data, off)), 10)
	case kU128, kS128:
		hi, lo := d.wide(data, off, int(n.size), n.signed)
		return appendInt128(dst, hi, lo, n.signed)
	case kBool:
		return appendBool(dst, nonZero(data[off:off+int(n.size)]))
	case kEnum:
		v := d.uint(data, off, int(n.size))
		if e := n.enum.lookup(v); e != nil {
			return append(dst, e.json...)
		}
		return appendNumber(dst, v, n.size, n.signed)
	case kBits:
		return d.appendBits(dst, data, off, n, true)
	case kF16:
		return appendFloat(dst, f16(d.u16(data, off)), 32, true)
	case kF32:
		return appendFloat(dst, float64(f32(d.u32(data, off))), 32, true)
	case kF64:
		return appendFloat(dst, f64(d.u64(data, off)), 64, true)
	case kFRaw:
		dst = append(dst, '"')
		dst = appendHexBytes(dst, data[off:off+int(n.size)])
		return append(dst, '"')
	case kPtr:
		dst = append(dst, `"0x`...)
		dst = strconv.AppendUint(dst, d.u64(data, off), 16)
		return append(dst, '"')
	case kString:
		return appendJSONString(dst, cstring(data[off:off+int(n.size)]))
	case kFlexStr:
		return appendJSONString(dst, cstring(data[off:]))
	case kArray:
		return d.jsonArray(dst, data, off, n.elem, int(n.n))
	case kFlex:
		return d.jsonArray(dst, data, off, n.elem, d.flexLen(data, off, n.elem))
	case kStruct, kUnion:
		if n.conds {
			return d.jsonFields(dst, data, off, n)
		}
		dst = append(dst, '{')
		for i := range n.fields {
			f := &n.fields[i]
			dst = append(dst, f.jkey...)
			dst = d.json(dst, data, off+int(f.off), f.node)
		}
		return append(dst, '}')
	case kOrdered:
		return strconv.AppendUint(dst, d.ordered(data, off, n), 10)
	case kIPv4, kIPv6, kInet, kHex, kHexBytes:
		dst = append(dst, '"')
		dst = d.appendFormatted(dst, data, off, n)
		return append(dst, '"')
	}
	panic("decode: unknown node kind")
}

func (d *Decoder) jsonArray(dst, data []byte, off int, elem *node, count int) []byte {
	dst = append(dst, '[')
	stride := int(elem.size)
	switch elem.kind {
	case kU8:
		// __u8 buf[N]: the most common array; skip the dispatch.
		for i, b := range data[off : off+count] {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
	default:
		for i := range count {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = d.json(dst, data, off+i*stride, elem)
		}
	}
	return append(dst, ']')
}

// appendBits appends a bitfield: a bool, an enumerator (quoted for JSON)
// or an integer.
func (d *Decoder) appendBits(dst, data []byte, off int, n *node, json bool) []byte {
	var hi, lo uint64
	if n.nbytes > 8 || n.bitSize > 64 {
		hi, lo = d.wideBits(data, off, n)
	} else {
		lo = d.bits(data, off, n)
		if n.signed && int64(lo) < 0 {
			hi = ^uint64(0)
		}
	}
	switch {
	case n.boolean:
		return appendBool(dst, hi|lo != 0)
	case n.enum != nil:
		if e := n.enum.lookup(lo); e != nil {
			if json {
				return append(dst, e.json...)
			}
			return append(dst, e.text...)
		}
	}
	return appendInt128(dst, hi, lo, n.signed)
}

// flexLen returns how many elems of a flexible array fit in data[off:],
// within the decoder's value budget.
func (d *Decoder) flexLen(data []byte, off int, elem *node) int {
	if off >= len(data) {
		return 0
	}
	n := uint64(len(data)-off) / uint64(elem.size)
	if elem.cost > 0 {
		n = min(n, d.maxValues/elem.cost)
	}
	return int(n)
}

func (d *Decoder) u16(data []byte, off int) uint16 {
	if d.be {
		return binary.BigEndian.Uint16(data[off:])
	}
	return binary.LittleEndian.Uint16(data[off:])
}

func (d *Decoder) u32(data []byte, off int) uint32 {
	if d.be {
		return binary.BigEndian.Uint32(data[off:])
	}
	return binary.LittleEndian.Uint32(data[off:])
}

func (d *Decoder) u64(data []byte, off int) uint64 {
	if d.be {
		return binary.BigEndian.Uint64(data[off:])
	}
	return binary.LittleEndian.Uint64(data[off:])
}

// uint reads an unsigned integer of 1, 2, 4 or 8 bytes.
func (d *Decoder) uint(data []byte, off, size int) uint64 {
	switch size {
	case 1:
		return uint64(data[off])
	case 2:
		return uint64(d.u16(data, off))
	case 4:
		return uint64(d.u32(data, off))
	default:
		return d.u64(data, off)
	}
}

// wide reads an integer of up to 16 bytes as 128 bits, sign-extended if
// signed.
func (d *Decoder) wide(data []byte, off, size int, signed bool) (hi, lo uint64) {
	b := data[off : off+size]
	var w [3]uint64
	if d.be {
		for _, c := range b {
			shl192(&w, 8)
			w[0] |= uint64(c)
		}
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			shl192(&w, 8)
			w[0] |= uint64(b[i])
		}
	}
	return extend128(w[1], w[0], uint(size*8), signed)
}

// bits extracts a bitfield of at most 64 bits within at most 8 bytes,
// sign-extended to 64 bits if signed.
func (d *Decoder) bits(data []byte, off int, n *node) uint64 {
	b := data[off : off+int(n.nbytes)]
	var v uint64
	var shift uint
	if d.be {
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		// Big-endian bit offsets count from the most significant bit.
		shift = uint(len(b))*8 - uint(n.bitOff) - uint(n.bitSize)
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift = uint(n.bitOff)
	}
	v >>= shift
	if s := 64 - uint(n.bitSize); s > 0 {
		v <<= s
		if n.signed {
			v = uint64(int64(v) >> s)
		} else {
			v >>= s
		}
	}
	return v
}

// wideBits extracts a bitfield of up to 128 bits within up to 17 bytes.
func (d *Decoder) wideBits(data []byte, off int, n *node) (hi, lo uint64) {
	b := data[off : off+int(n.nbytes)]
	var w [3]uint64
	var shift uint
	if d.be {
		for _, c := range b {
			shl192(&w, 8)
			w[0] |= uint64(c)
		}
		shift = uint(len(b))*8 - uint(n.bitOff) - uint(n.bitSize)
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			shl192(&w, 8)
			w[0] |= uint64(b[i])
		}
		shift = uint(n.bitOff)
	}
	shr192(&w, shift)
	return extend128(w[1], w[0], uint(n.bitSize), n.signed)
}

func shl192(w *[3]uint64, s uint) {
	w[2] = w[2]<<s | w[1]>>(64-s)
	w[1] = w[1]<<s | w[0]>>(64-s)
	w[0] <<= s
}

func shr192(w *[3]uint64, s uint) {
	for s >= 64 {
		w[0], w[1], w[2] = w[1], w[2], 0
		s -= 64
	}
	if s > 0 {
		w[0] = w[0]>>s | w[1]<<(64-s)
		w[1] = w[1]>>s | w[2]<<(64-s)
		w[2] >>= s
	}
}

// extend128 keeps the low bits bits of hi:lo, sign-extending them if
// signed.
func extend128(hi, lo uint64, bits uint, signed bool) (uint64, uint64) {
	switch {
	case bits >= 128:
		return hi, lo
	case bits > 64:
		s := 128 - bits
		hi <<= s
		if signed {
			return uint64(int64(hi) >> s), lo
		}
		return hi >> s, lo
	case bits == 64:
		if signed && int64(lo) < 0 {
			return ^uint64(0), lo
		}
		return 0, lo
	default:
		s := 64 - bits
		lo <<= s
		if signed {
			lo = uint64(int64(lo) >> s)
			if int64(lo) < 0 {
				return ^uint64(0), lo
			}
			return 0, lo
		}
		return 0, lo >> s
	}
}

func nonZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return true
		}
	}
	return false
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendNumber appends v, an integer of size bytes, sign-extending it if
// signed.
func appendNumber(dst []byte, v uint64, size uint32, signed bool) []byte {
	if signed {
		s := 64 - 8*uint(size)
		return strconv.AppendInt(dst, int64(v<<s)>>s, 10)
	}
	return strconv.AppendUint(dst, v, 10)
}

// cstring returns b up to its first NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// appendFormatted appends the values of format kinds that JSON quotes.
func (d *Decoder) appendFormatted(dst, data []byte, off int, n *node) []byte {
	switch n.kind {
	case kIPv4:
		return appendIPv4(dst, data[off:off+4])
	case kIPv6:
		return appendIPv6(dst, data[off:off+16])
	case kInet:
		if d.isV4(data, off, n) {
			return appendIPv4(dst, data[off:off+4])
		}
		return appendIPv6(dst, data[off:off+16])
	case kHex:
		dst = append(dst, '0', 'x')
		return strconv.AppendUint(dst, d.ordered(data, off, n), 16)
	case kHexBytes:
		return appendHexBytes(dst, data[off:off+int(n.size)])
	}
	panic("decode: unknown node kind")
}

package runtime

import (
	"encoding/binary"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/ctype"
)

// intLeaf is an integer inside a value: a counter that per-CPU values add
// up and interval deltas subtract.
type intLeaf struct {
	off, size int
}

// maxLeaves bounds the integers one value is split into.
const maxLeaves = 1 << 16

// intLeaves lists the integers of a value of type t (members of structs,
// elements of arrays, recursively); bitfields, enums, bools, chars of char
// arrays, pointers and floats are not counters and are left out.
func intLeaves(t btf.Type) []intLeaf {
	var out []intLeaf
	var walk func(t btf.Type, off, depth int) bool
	walk = func(t btf.Type, off, depth int) bool {
		if depth > 16 || len(out) > maxLeaves {
			return false
		}
		switch v := btf.UnderlyingType(t).(type) {
		case *btf.Int:
			if v.Encoding&(btf.Bool|btf.Char) != 0 || v.Name == "char" {
				return true
			}
			switch v.Size {
			case 1, 2, 4, 8:
				out = append(out, intLeaf{off, int(v.Size)})
			}
		case *btf.Array:
			if ctype.CharOf(btf.UnderlyingType(v.Type)) == ctype.PlainChar {
				return true // a string
			}
			sz, err := btf.Sizeof(v.Type)
			if err != nil || sz <= 0 {
				return true
			}
			for i := 0; i < int(v.Nelems); i++ {
				if !walk(v.Type, off+i*sz, depth+1) {
					return false
				}
			}
		case *btf.Struct:
			for _, m := range v.Members {
				if m.BitfieldSize > 0 || m.Offset%8 != 0 {
					continue
				}
				if !walk(m.Type, off+int(m.Offset.Bytes()), depth+1) {
					return false
				}
			}
		}
		return true
	}
	walk(t, 0, 0)
	return out
}

// sumPerCPU adds up the per-CPU copies of a value: integers are summed,
// everything else (names, flags) comes from the first CPU that set it.
func sumPerCPU(order binary.ByteOrder, leaves []intLeaf, size int, vals [][]byte) []byte {
	out := make([]byte, size)
	isLeaf := make([]bool, size)
	for _, l := range leaves {
		for i := l.off; i < l.off+l.size && i < size; i++ {
			isLeaf[i] = true
		}
	}
	for _, v := range vals {
		if len(v) < size {
			continue
		}
		for _, l := range leaves {
			if l.off+l.size > size {
				continue
			}
			putUint(order, out[l.off:], l.size, readUint(order, out[l.off:], l.size)+readUint(order, v[l.off:], l.size))
		}
		// Other bytes: the first CPU whose copy has them non-zero.
		for start := 0; start < size; {
			if isLeaf[start] {
				start++
				continue
			}
			end := start
			for end < size && !isLeaf[end] {
				end++
			}
			if isZero(out[start:end]) {
				copy(out[start:end], v[start:end])
			}
			start = end
		}
	}
	return out
}

// subtractLeaves writes cur - prev for every integer into a copy of cur:
// what accumulated since the previous print.
func subtractLeaves(order binary.ByteOrder, leaves []intLeaf, cur, prev []byte) []byte {
	out := append([]byte(nil), cur...)
	if len(prev) != len(cur) {
		return out
	}
	for _, l := range leaves {
		if l.off+l.size > len(cur) {
			continue
		}
		putUint(order, out[l.off:], l.size, readUint(order, cur[l.off:], l.size)-readUint(order, prev[l.off:], l.size))
	}
	return out
}

func putUint(order binary.ByteOrder, b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		order.PutUint16(b, uint16(v))
	case 4:
		order.PutUint32(b, uint32(v))
	case 8:
		order.PutUint64(b, v)
	}
}

package meta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/cilium/ebpf/btf"
)

// maxDepth bounds recursion through nested types.
const maxDepth = 32

// ValueJSON renders the bytes of a value of type t as JSON: numbers, bools,
// char arrays as strings, arrays, structs and unions as objects, enums by
// name when a name matches. It is used for the default values of globals.
func ValueJSON(t btf.Type, b []byte, order binary.ByteOrder) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := writeValue(&buf, t, b, order, 0); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

func writeValue(w *bytes.Buffer, t btf.Type, b []byte, order binary.ByteOrder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("type nests deeper than %d levels", maxDepth)
	}
	t = Resolve(t)
	size, err := btf.Sizeof(t)
	if err != nil {
		return err
	}
	if size > len(b) {
		return fmt.Errorf("value of %s needs %d bytes, have %d", TypeName(t), size, len(b))
	}
	b = b[:size]
	switch v := t.(type) {
	case *btf.Int:
		if v.Encoding&btf.Bool != 0 {
			w.WriteString(strconv.FormatBool(uintOf(b, order) != 0))
			return nil
		}
		if v.Encoding&btf.Signed != 0 {
			w.WriteString(strconv.FormatInt(intOf(b, order), 10))
		} else {
			w.WriteString(strconv.FormatUint(uintOf(b, order), 10))
		}
	case *btf.Enum:
		u := uintOf(b, order)
		n := int64(u)
		if v.Signed {
			n = intOf(b, order)
		}
		for _, val := range v.Values {
			if val.Value == u || (v.Signed && int64(val.Value) == n) {
				js, _ := json.Marshal(val.Name)
				w.Write(js)
				return nil
			}
		}
		if v.Signed {
			w.WriteString(strconv.FormatInt(n, 10))
		} else {
			w.WriteString(strconv.FormatUint(u, 10))
		}
	case *btf.Float:
		var f float64
		switch size {
		case 4:
			f = float64(math.Float32frombits(order.Uint32(b)))
		case 8:
			f = math.Float64frombits(order.Uint64(b))
		default:
			w.WriteString("null")
			return nil
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			js, _ := json.Marshal(strconv.FormatFloat(f, 'g', -1, 64))
			w.Write(js)
			return nil
		}
		w.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case *btf.Pointer:
		w.WriteString(strconv.FormatUint(uintOf(b, order), 10))
	case *btf.Array:
		if IsCharArray(v) {
			s := b
			if i := bytes.IndexByte(s, 0); i >= 0 {
				s = s[:i]
			}
			if !utf8.Valid(s) {
				s = bytes.ToValidUTF8(s, []byte("\uFFFD"))
			}
			js, _ := json.Marshal(string(s))
			w.Write(js)
			return nil
		}
		esize, err := btf.Sizeof(v.Type)
		if err != nil {
			return err
		}
		w.WriteByte('[')
		for i := 0; i < int(v.Nelems); i++ {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeValue(w, v.Type, b[i*esize:], order, depth+1); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case *btf.Struct:
		return writeMembers(w, v.Members, b, order, depth)
	case *btf.Union:
		return writeMembers(w, v.Members, b, order, depth)
	default:
		w.WriteString("null")
	}
	return nil
}

func writeMembers(w *bytes.Buffer, members []btf.Member, b []byte, order binary.ByteOrder, depth int) error {
	w.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			w.WriteByte(',')
		}
		name := m.Name
		if name == "" {
			name = "__anon" + strconv.Itoa(i)
		}
		js, _ := json.Marshal(name)
		w.Write(js)
		w.WriteByte(':')
		if m.BitfieldSize > 0 {
			v := bitfield(b, uint32(m.Offset), uint32(m.BitfieldSize), order)
			if it, ok := Resolve(m.Type).(*btf.Int); ok && it.Encoding&btf.Signed != 0 {
				shift := 64 - uint(m.BitfieldSize)
				w.WriteString(strconv.FormatInt(int64(v<<shift)>>shift, 10))
			} else {
				w.WriteString(strconv.FormatUint(v, 10))
			}
			continue
		}
		off := int(m.Offset.Bytes())
		if off > len(b) {
			return fmt.Errorf("member %s at byte %d is past the value's %d bytes", name, off, len(b))
		}
		if err := writeValue(w, m.Type, b[off:], order, depth+1); err != nil {
			return err
		}
	}
	w.WriteByte('}')
	return nil
}

// bitfield extracts size bits starting at bit offset off (little-endian bit
// numbering as the BPF targets lay them out).
func bitfield(b []byte, off, size uint32, order binary.ByteOrder) uint64 {
	var v uint64
	if order == binary.BigEndian {
		for i := uint32(0); i < size; i++ {
			bit := off + i
			if int(bit/8) >= len(b) {
				break
			}
			v = v<<1 | uint64(b[bit/8]>>(7-bit%8)&1)
		}
		return v
	}
	for i := uint32(0); i < size; i++ {
		bit := off + i
		if int(bit/8) >= len(b) {
			break
		}
		v |= uint64(b[bit/8]>>(bit%8)&1) << i
	}
	return v
}

// IsCharArray reports whether an array holds chars (printed as a string).
func IsCharArray(a *btf.Array) bool {
	it, ok := Resolve(a.Type).(*btf.Int)
	if !ok || it.Size != 1 {
		return false
	}
	return it.Encoding&btf.Char != 0 || it.Name == "char"
}

func uintOf(b []byte, order binary.ByteOrder) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	case 8:
		return order.Uint64(b)
	case 16: // __int128: low half
		if order == binary.BigEndian {
			return order.Uint64(b[8:])
		}
		return order.Uint64(b)
	}
	return 0
}

func intOf(b []byte, order binary.ByteOrder) int64 {
	u := uintOf(b, order)
	switch len(b) {
	case 1:
		return int64(int8(u))
	case 2:
		return int64(int16(u))
	case 4:
		return int64(int32(u))
	}
	return int64(u)
}

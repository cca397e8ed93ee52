package progflags

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/ctype"
)

// Kind says how a flag's value is written on the command line.
type Kind int

// The kinds of flags.
const (
	// Unsettable flags (structs, unions, pointers, arrays of those, arrays of
	// strings, types without BTF) are listed but refuse a value.
	Unsettable Kind = iota
	// Int is an integer of 1, 2, 4, 8 or 16 bytes, signed or not.
	Int
	// Bool is a C bool (_Bool).
	Bool
	// Enum is an enum of any width, set by enumerator name or number.
	Enum
	// Float is a float or a double.
	Float
	// String is a char[N], signed char[N] or unsigned char[N].
	String
	// Array is an array of Int, Bool, Enum or Float elements, given as a
	// comma-separated list.
	Array
)

func (k Kind) String() string {
	switch k {
	case Unsettable:
		return "unsettable"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case Enum:
		return "enum"
	case Float:
		return "float"
	case String:
		return "string"
	case Array:
		return "array"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// maxDepth bounds the recursion through BTF types.
const maxDepth = 16

// codec parses, encodes and formats the values of one C type.
type codec struct {
	kind   Kind
	name   string // C spelling, typedef names kept: "u16", "char[16]", "enum color"
	size   int    // bytes
	signed bool   // Int, Enum
	enum   *btf.Enum
	elem   *codec // Array
	n      int    // Array: elements (nested arrays flattened); String: bytes
	order  binary.ByteOrder
}

func newCodec(t btf.Type, order binary.ByteOrder) *codec {
	return analyze(t, order, 0)
}

func analyze(t btf.Type, order binary.ByteOrder, depth int) *codec {
	c := &codec{name: ctype.VarTypeName(t), order: order}
	if depth > maxDepth {
		return c
	}
	r := btf.UnderlyingType(t)
	size, err := btf.Sizeof(r)
	if err != nil || size <= 0 {
		return c
	}
	c.size = size
	switch v := r.(type) {
	case *btf.Int:
		if v.Encoding&btf.Bool != 0 {
			c.kind = Bool
			return c
		}
		switch size {
		case 1, 2, 4, 8, 16:
			c.kind, c.signed = Int, v.Encoding&btf.Signed != 0
		}
	case *btf.Enum:
		switch size {
		case 1, 2, 4, 8:
			c.kind, c.signed, c.enum = Enum, v.Signed, v
		}
	case *btf.Float:
		if size == 4 || size == 8 {
			c.kind = Float
		}
	case *btf.Array:
		if v.Nelems == 0 {
			return c
		}
		if isCharElem(v.Type) {
			c.kind, c.n = String, int(v.Nelems)
			return c
		}
		// Arrays of arrays of numbers are flattened in row-major order.
		n, et := int(v.Nelems), v.Type
		for i := 0; i < maxDepth; i++ {
			inner, ok := btf.UnderlyingType(et).(*btf.Array)
			if !ok {
				break
			}
			if isCharElem(inner.Type) || inner.Nelems == 0 {
				return c // an array of strings
			}
			n *= int(inner.Nelems)
			et = inner.Type
		}
		ec := analyze(et, order, depth+1)
		switch ec.kind {
		case Int, Bool, Enum, Float:
			if ec.size*n == size {
				c.kind, c.elem, c.n = Array, ec, n
			}
		}
	}
	return c
}

// isCharElem reports whether an array element is written as char, signed
// char or unsigned char (qualifiers aside; a typedef such as u8 is not).
func isCharElem(t btf.Type) bool {
	return ctype.CharOf(t) != ctype.NotChar
}

// valueError is a value that does not parse or fit. It is rendered with the
// flag it was given to.
type valueError struct {
	typ, hint, got string // "WHERE expects TYP (HINT), got GOT"
	text           string // otherwise "WHERE: TEXT"
}

func (e *valueError) render(where string) string {
	if e.typ != "" {
		return fmt.Sprintf("%s expects %s (%s), got %q", where, e.typ, e.hint, e.got)
	}
	return where + ": " + e.text
}

func expects(c *codec, hint, got string) *valueError {
	return &valueError{typ: c.name, hint: hint, got: got}
}

func failf(format string, args ...any) *valueError {
	return &valueError{text: fmt.Sprintf(format, args...)}
}

const boolHint = "true, false, 1, 0, yes or no"

func (c *codec) intHint() string {
	if c.size == 1 {
		return "a number or a single character"
	}
	return "a decimal or 0x hex number"
}

// parse turns a command-line value into the bytes of the type.
func (c *codec) parse(s string) ([]byte, *valueError) {
	switch c.kind {
	case Int:
		v, ok := parseInt(s)
		if !ok {
			if c.size == 1 && len(s) == 1 {
				return []byte{s[0]}, nil
			}
			return nil, expects(c, c.intHint(), s)
		}
		return c.encodeInt(v, s)
	case Bool:
		b, ok := parseBool(s)
		if !ok {
			return nil, expects(c, boolHint, s)
		}
		v := big.NewInt(0)
		if b {
			v.SetInt64(1)
		}
		return c.encodeInt(v, s)
	case Enum:
		return c.parseEnum(s)
	case Float:
		bits := c.size * 8
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, failf("%s is out of range for %s", s, c.name)
			}
			return nil, expects(c, "a decimal number", s)
		}
		b := make([]byte, c.size)
		if bits == 32 {
			c.order.PutUint32(b, math.Float32bits(float32(f)))
		} else {
			c.order.PutUint64(b, math.Float64bits(f))
		}
		return b, nil
	case String:
		if len(s) > c.n-1 {
			return nil, failf("%q is %d bytes, %s holds at most %d", s, len(s), c.name, c.n-1)
		}
		b := make([]byte, c.size)
		copy(b, s)
		return b, nil
	case Array:
		b := make([]byte, c.size)
		if s == "" {
			return b, nil
		}
		parts := strings.Split(s, ",")
		if len(parts) > c.n {
			return nil, failf("%d values given, %s holds at most %d", len(parts), c.name, c.n)
		}
		for i, p := range parts {
			eb, err := c.elem.parse(strings.TrimSpace(p))
			if err != nil {
				return nil, failf("%s", err.render(fmt.Sprintf("element %d", i+1)))
			}
			copy(b[i*c.elem.size:], eb)
		}
		return b, nil
	}
	return nil, failf("%s cannot be set from the command line", c.name)
}

func (c *codec) parseEnum(s string) ([]byte, *valueError) {
	if v, ok := parseInt(s); ok {
		return c.encodeInt(v, s)
	}
	var folded []btf.EnumValue
	for _, ev := range c.enum.Values {
		if ev.Name == s {
			return c.encodeInt(c.enumValue(ev), s)
		}
		if strings.EqualFold(ev.Name, s) {
			folded = append(folded, ev)
		}
	}
	switch len(folded) {
	case 1:
		return c.encodeInt(c.enumValue(folded[0]), s)
	case 0:
		return nil, failf("unknown value %q for %s; valid names: %s", s, c.name, strings.Join(c.enumNames(), ", "))
	}
	names := make([]string, len(folded))
	for i, ev := range folded {
		names[i] = ev.Name
	}
	return nil, failf("%q matches %s; write the exact name", s, strings.Join(names, " and "))
}

func (c *codec) enumValue(ev btf.EnumValue) *big.Int {
	if c.signed {
		return big.NewInt(int64(ev.Value))
	}
	return new(big.Int).SetUint64(ev.Value)
}

func (c *codec) enumNames() []string {
	var names []string
	if c.enum != nil {
		for _, ev := range c.enum.Values {
			names = append(names, ev.Name)
		}
	}
	return names
}

// parseInt reads decimal, 0x hex, 0o or 0 octal and 0b binary, with an
// optional sign.
func parseInt(s string) (*big.Int, bool) {
	if s == "" || len(s) > 1024 {
		return nil, false
	}
	return new(big.Int).SetString(s, 0)
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// bounds returns the range of an integer of size bytes.
func bounds(size int, signed bool) (lo, hi *big.Int) {
	bits := uint(size * 8)
	if signed {
		hi = new(big.Int).Lsh(big.NewInt(1), bits-1)
		lo = new(big.Int).Neg(hi)
		hi.Sub(hi, big.NewInt(1))
		return lo, hi
	}
	hi = new(big.Int).Lsh(big.NewInt(1), bits)
	return big.NewInt(0), hi.Sub(hi, big.NewInt(1))
}

func (c *codec) encodeInt(v *big.Int, text string) ([]byte, *valueError) {
	lo, hi := bounds(c.size, c.signed)
	if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
		return nil, failf("%s is out of range for %s (%s..%s)", text, c.name, lo, hi)
	}
	u := new(big.Int).Set(v)
	if u.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(c.size*8)))
	}
	b := u.FillBytes(make([]byte, c.size)) // big-endian
	if !isBigEndian(c.order) {
		reverse(b)
	}
	return b, nil
}

func (c *codec) decodeInt(b []byte) *big.Int {
	be := append([]byte(nil), b[:c.size]...)
	if !isBigEndian(c.order) {
		reverse(be)
	}
	v := new(big.Int).SetBytes(be)
	if c.signed && len(be) > 0 && be[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(c.size*8)))
	}
	return v
}

func isBigEndian(order binary.ByteOrder) bool {
	var b [2]byte
	order.PutUint16(b[:], 1)
	return b[1] == 1
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// format prints a value for help: numbers in decimal, bools as true/false,
// enums by name, strings quoted, arrays comma-separated.
func (c *codec) format(b []byte) string {
	if len(b) < c.size {
		return ""
	}
	switch c.kind {
	case Int:
		return c.decodeInt(b).String()
	case Bool:
		for _, x := range b[:c.size] {
			if x != 0 {
				return "true"
			}
		}
		return "false"
	case Enum:
		v := c.decodeInt(b)
		for _, ev := range c.enum.Values {
			if c.enumValue(ev).Cmp(v) == 0 {
				return ev.Name
			}
		}
		return v.String()
	case Float:
		if c.size == 4 {
			return strconv.FormatFloat(float64(math.Float32frombits(c.order.Uint32(b))), 'g', -1, 32)
		}
		return strconv.FormatFloat(math.Float64frombits(c.order.Uint64(b)), 'g', -1, 64)
	case String:
		s := b[:c.size]
		for i, x := range s {
			if x == 0 {
				s = s[:i]
				break
			}
		}
		return strconv.Quote(string(s))
	case Array:
		parts := make([]string, c.n)
		for i := range parts {
			parts[i] = c.elem.format(b[i*c.elem.size:])
		}
		return strings.Join(parts, ",")
	}
	return ""
}

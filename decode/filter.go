package decode

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Op is the comparison of a [Filter].
type Op uint8

const (
	OpEq       Op = iota // ==
	OpNe                 // !=
	OpMatch              // ~  (regular expression)
	OpNotMatch           // !~
	OpLt                 // <
	OpLe                 // <=
	OpGt                 // >
	OpGe                 // >=
)

// ops in the order ParseFilter tries them: longer spellings first; "="
// is read as "==".
var ops = []struct {
	s  string
	op Op
}{
	{"==", OpEq}, {"!=", OpNe}, {"!~", OpNotMatch}, {"<=", OpLe}, {">=", OpGe},
	{"~", OpMatch}, {"<", OpLt}, {">", OpGt}, {"=", OpEq},
}

func (op Op) String() string {
	for _, o := range ops {
		if o.op == op {
			return o.s
		}
	}
	return "?"
}

// Filter is one condition on the decoded value of a top-level member:
// FIELD==VALUE, FIELD!=VALUE, FIELD~REGEX, FIELD!~REGEX, FIELD<VALUE,
// FIELD<=VALUE, FIELD>VALUE or FIELD>=VALUE.
type Filter struct {
	Field string
	Op    Op
	Value string
}

func (f Filter) String() string { return f.Field + f.Op.String() + f.Value }

// ErrFilterSyntax is wrapped by ParseFilter's errors.
var ErrFilterSyntax = fmt.Errorf("want FIELD==VALUE, FIELD!=VALUE, FIELD~REGEX, FIELD!~REGEX, or FIELD<, <=, >, >= NUMBER")

// ParseFilter reads one filter expression. FIELD is a C name (letters,
// digits, _); VALUE is the rest of the expression, spaces included, and
// may be empty (comm== matches an empty string).
func ParseFilter(s string) (Filter, error) {
	i := 0
	for i < len(s) && (s[i] == '_' || '0' <= s[i] && s[i] <= '9' || 'a' <= s[i]|0x20 && s[i]|0x20 <= 'z') {
		i++
	}
	if i == 0 {
		return Filter{}, fmt.Errorf("%q: %w", s, ErrFilterSyntax)
	}
	for _, o := range ops {
		if v, ok := strings.CutPrefix(s[i:], o.s); ok {
			return Filter{Field: s[:i], Op: o.op, Value: v}, nil
		}
	}
	return Filter{}, fmt.Errorf("%q: %w", s, ErrFilterSyntax)
}

// How a condition reads its member.
type class uint8

const (
	cInt    class = iota // integers, bitfields, __be16, @format hex: compared as numbers
	cFloat               // floats
	cBool                // true/false, 1/0
	cEnum                // by enumerator name or number
	cString              // char[N]: the bytes up to the first NUL
	cText                // anything else: its text, as a column prints it
)

type cond struct {
	f     Filter
	c     cell
	class class
	// the value compared with: a number as sign and magnitude, a float,
	// bytes, or a regular expression.
	neg bool
	mag uint64
	fl  float64
	b   []byte
	re  *regexp.Regexp
}

// Matcher tells whether events pass a set of filters. It is made by
// [Decoder.NewMatcher]; unlike a Decoder it is not safe for concurrent
// use (it keeps a buffer for values compared by their text).
type Matcher struct {
	d       *Decoder
	conds   []cond
	scratch []byte
}

// NewMatcher compiles filters for events of d's type. Members are found
// as [Decoder.Select] finds them (every member counts, printed or not).
// Integers, bitfields and enums compare as numbers (VALUE may be decimal,
// 0x hex, 0o octal or 0b binary, negative for signed members); enums
// also by enumerator name; bools as true/false or 1/0; char[N] strings as
// their bytes up to the first NUL; floats as numbers; anything else
// (addresses, arrays, structs, pointers, @format hex members of other
// than integer types) by its text, as the text format prints it. ~ and !~
// match a regular expression (Go syntax, unanchored) against a string's
// bytes or a value's text. <, <=, > and >= need a number or float member.
// A member an event does not hold (a short event) fails every filter on
// it. Errors name the filter: an [*UnknownFieldError] for a member the
// type lacks, a plain error for a value that does not fit the member.
func (d *Decoder) NewMatcher(filters []Filter) (*Matcher, error) {
	m := &Matcher{d: d}
	for _, f := range filters {
		if !d.composite() {
			return nil, &UnknownFieldError{Name: f.Field}
		}
		n, err := d.lookup(f.Field)
		if err != nil {
			return nil, err
		}
		c, err := compileCond(f, n.c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		m.conds = append(m.conds, c)
	}
	return m, nil
}

func classOf(n *node) class {
	switch n.kind {
	case kU8, kU16, kU32, kU64, kS8, kS16, kS32, kS64, kOrdered, kHex:
		return cInt
	case kBits:
		switch {
		case n.boolean:
			return cBool
		case n.enum != nil:
			return cEnum
		case n.nbytes <= 8 && n.bitSize <= 64:
			return cInt
		}
	case kEnum:
		return cEnum
	case kBool:
		return cBool
	case kF16, kF32, kF64:
		return cFloat
	case kString, kFlexStr:
		return cString
	}
	return cText
}

func compileCond(f Filter, c cell) (cond, error) {
	k := cond{f: f, c: c, class: classOf(c.node)}
	if c.alt != nil {
		// An address pair: both members print as text.
		k.class = cText
	}
	switch f.Op {
	case OpMatch, OpNotMatch:
		re, err := regexp.Compile(f.Value)
		if err != nil {
			return k, fmt.Errorf("bad regular expression: %w", err)
		}
		k.re = re
		return k, nil
	case OpLt, OpLe, OpGt, OpGe:
		if k.class != cInt && k.class != cFloat && k.class != cEnum {
			return k, fmt.Errorf("%s compares numbers, and %s is not one; use ==, !=, ~ or !~", f.Op, f.Field)
		}
	}
	switch k.class {
	case cInt:
		return k, k.number()
	case cFloat:
		v, err := strconv.ParseFloat(f.Value, 64)
		if err != nil {
			return k, fmt.Errorf("%s is a number; %q is not", f.Field, f.Value)
		}
		k.fl = v
	case cBool:
		switch strings.ToLower(f.Value) {
		case "true", "1":
			k.mag = 1
		case "false", "0":
		default:
			return k, fmt.Errorf("%s is a bool: compare it with true or false", f.Field)
		}
	case cEnum:
		e := c.node.enum
		if k.number() == nil {
			if k.neg && c.node.kind == kEnum {
				// Enums compare as their bits: -1 is 0xffffffff.
				k.mag, k.neg = -k.mag&e.mask, false
			}
			return k, nil
		}
		names := make([]string, len(e.names))
		for i, n := range e.names {
			if n.text == f.Value {
				k.mag = e.keys[i]
				return k, nil
			}
			names[i] = n.text
		}
		return k, fmt.Errorf("%q is no value of %s; its names are %s (or use a number)", f.Value, f.Field, strings.Join(names, ", "))
	default:
		k.b = []byte(f.Value)
	}
	return k, nil
}

// number reads the filter's value as an integer.
func (k *cond) number() error {
	s := k.f.Value
	s, k.neg = strings.CutPrefix(s, "-")
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil || s == "" || s[0] == '+' {
		return fmt.Errorf("%s is an integer; %q is not one (decimal, 0x hex, 0o octal or 0b binary)", k.f.Field, k.f.Value)
	}
	k.mag = v
	if v == 0 {
		k.neg = false
	}
	return nil
}

// Match reports whether the event in data passes every filter.
func (m *Matcher) Match(data []byte) bool {
	for i := range m.conds {
		if !m.match(&m.conds[i], data) {
			return false
		}
	}
	return true
}

func (m *Matcher) match(k *cond, data []byte) bool {
	d := m.d
	f := &k.c.field
	if alt := k.c.alt; alt != nil && !d.shown(data, 0, f.sel) {
		f = alt
	}
	at := int(f.off)
	n := f.node
	whole, part := fits(data, at, n)
	if !whole && !part {
		return false
	}
	if k.re != nil || k.class == cString || k.class == cText {
		var v []byte
		switch {
		case k.class == cString && n.kind == kFlexStr || k.class == cString && !whole:
			v = cstring(data[at:])
		case k.class == cString:
			v = cstring(data[at : at+int(n.size)])
		default:
			m.scratch = d.textField(m.scratch[:0], data, 0, f)
			v = m.scratch
		}
		switch k.f.Op {
		case OpMatch:
			return k.re.Match(v)
		case OpNotMatch:
			return !k.re.Match(v)
		case OpEq:
			return bytes.Equal(v, k.b)
		default:
			return !bytes.Equal(v, k.b)
		}
	}
	if !whole {
		return false
	}
	var c int
	switch k.class {
	case cFloat:
		var v float64
		switch n.kind {
		case kF16:
			v = f16(d.u16(data, at))
		case kF32:
			v = float64(f32(d.u32(data, at)))
		default:
			v = f64(d.u64(data, at))
		}
		switch {
		case math.IsNaN(v):
			return k.f.Op == OpNe
		case v < k.fl:
			c = -1
		case v > k.fl:
			c = 1
		}
	default:
		neg, mag := d.intValue(data, at, n)
		c = cmpInt(neg, mag, k.neg, k.mag)
	}
	switch k.f.Op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	}
	return c >= 0
}

// intValue reads an integer, bitfield, bool or enum member as sign and
// magnitude.
func (d *Decoder) intValue(data []byte, at int, n *node) (neg bool, mag uint64) {
	var v uint64
	signed := n.signed
	switch n.kind {
	case kOrdered, kHex:
		return false, d.ordered(data, at, n)
	case kBits:
		v = d.bits(data, at, n)
		if n.boolean && v != 0 {
			return false, 1
		}
	case kBool:
		if nonZero(data[at : at+int(n.size)]) {
			return false, 1
		}
		return false, 0
	case kS8, kS16, kS32, kS64:
		signed = true
		v = d.uint(data, at, int(n.size))
	case kEnum:
		return false, d.uint(data, at, int(n.size)) & n.enum.mask
	default:
		v = d.uint(data, at, int(n.size))
	}
	if !signed {
		return false, v
	}
	if n.kind != kBits {
		s := 64 - 8*uint(n.size)
		v = uint64(int64(v<<s) >> s)
	}
	if int64(v) < 0 {
		return true, -v
	}
	return false, v
}

// cmpInt compares two integers given as sign and magnitude.
func cmpInt(aneg bool, a uint64, bneg bool, b uint64) int {
	if a == 0 {
		aneg = false
	}
	if b == 0 {
		bneg = false
	}
	switch {
	case aneg != bneg:
		if aneg {
			return -1
		}
		return 1
	case aneg:
		a, b = b, a
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

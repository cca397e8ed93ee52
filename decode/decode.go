package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ErrUnsupportedType is returned (wrapped) by [New] for types that cannot be
// decoded: void, functions, forward declarations, types of size 0, type
// cycles, nesting deeper than MaxDepth, members outside their struct, or
// types that expand to more than MaxValues values.
var ErrUnsupportedType = errors.New("type cannot be decoded")

// Default limits, used when the corresponding Options field is zero.
const (
	DefaultMaxDepth  = 32
	DefaultMaxValues = 1 << 20
)

// Options change how a [Decoder] reads and prints events. The zero value
// (or a nil *Options) is valid.
type Options struct {
	// ByteOrder of the event data: the byte order of the BPF program that
	// wrote it. Default: [binary.NativeEndian].
	ByteOrder binary.ByteOrder

	// MaxDepth bounds how deeply structs, unions and arrays may nest.
	// Default: DefaultMaxDepth.
	MaxDepth int

	// MaxValues bounds how many values (numbers, strings, structs, array
	// elements; a char array counts one per 16 bytes) one event may expand
	// to, which protects against types whose output would be far larger
	// than their data (unions over huge arrays, shared subtrees). New
	// rejects types above it; a flexible array member is cut to fit it.
	// Default: DefaultMaxValues.
	MaxValues int

	// Formats overrides how members of named structs print, as @format
	// doc comments in an export header ask: Formats["event"]["saddr"] is
	// the format of member saddr wherever a struct event is decoded.
	// Members of anonymous structs and unions count as members of the
	// struct that holds them. New fails, with an error wrapping
	// [ErrUnsupportedType], for formats that do not fit the member.
	Formats map[string]map[string]Format

	// Plain turns the conventions off: typedef names (__be16, ecc_ip_t),
	// member names (saddr) and Formats change nothing; values print as
	// their C types say. For values that must read back as what the C
	// code wrote, such as the defaults of globals.
	Plain bool
}

// Align says on which side a text column pads its values.
type Align uint8

const (
	AlignLeft  Align = iota // strings, enums, bools, pointers, composites
	AlignRight              // integers and floats
)

// Column describes one column of the text format: a top-level member.
type Column struct {
	// Name is the member's C name upper-cased, like eunomia-bpf's ecli
	// prints it ("PID", "COMM"); "VALUE" when the type is not a struct.
	Name string
	// Member is the member's C name as written ("" for VALUE).
	Member string
	// Width is the padded width of the column: the larger of a width
	// suggested by the member's type and len(Name).
	Width int
	Align Align
}

// cell is one column of the text format: a top-level member, or an
// address pair (saddr_v4 and saddr_v6) of which the family member selects
// the one that prints.
type cell struct {
	field
	alt *field // the other member of a pair: prints when field.sel hides field
}

// Decoder formats events of one BTF type. It is compiled once by [New] and
// is safe for concurrent use.
type Decoder struct {
	root      *node
	size      int
	be        bool
	maxValues uint64
	// top-level cells of the text format: the root's fields when it is a
	// struct, union or datasec, else one cell for the root itself.
	cells []cell
	cols  []Column
	// all and allCols are the cells and columns of every top-level
	// member, what Select and filters choose from.
	all     []cell
	allCols []Column
	// pick, when not nil, are the members JSON prints (Select).
	pick []picked
	// minSize is the size of the smallest prefix of an event that holds a
	// whole top-level member.
	minSize int
}

// New compiles a decoder for events of type t, usually a *btf.Struct.
// Typedefs and qualifiers are resolved.
func New(t btf.Type, opts *Options) (*Decoder, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ByteOrder == nil {
		o.ByteOrder = binary.NativeEndian
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxValues <= 0 {
		o.MaxValues = DefaultMaxValues
	}
	for sname, members := range o.Formats {
		for mname, f := range members {
			if _, err := ParseFormat(string(f)); err != nil {
				return nil, fmt.Errorf("%w: struct %s member %s: %w", ErrUnsupportedType, sname, mname, err)
			}
		}
	}
	c := compiler{
		memo:      make(map[btf.Type]*node),
		maxDepth:  o.MaxDepth,
		maxValues: uint64(o.MaxValues),
		plain:     o.Plain,
		formats:   o.Formats,
	}
	root, err := c.compile(t, 0)
	if err != nil {
		return nil, err
	}
	if root.size == 0 {
		return nil, fmt.Errorf("%w: %v has size 0", ErrUnsupportedType, t)
	}
	if root.cost > uint64(o.MaxValues) {
		return nil, fmt.Errorf("%w: %v expands to more than %d values", ErrUnsupportedType, t, o.MaxValues)
	}
	if root.size > maxSize {
		return nil, fmt.Errorf("%w: %v is larger than %d bytes", ErrUnsupportedType, t, maxSize)
	}
	root = withFlex(root)

	d := &Decoder{
		root:      root,
		size:      int(root.size),
		be:        o.ByteOrder.Uint16([]byte{0, 1}) == 1,
		maxValues: uint64(o.MaxValues),
	}
	d.minSize = d.size
	switch root.kind {
	case kStruct, kUnion:
		used := make([]bool, len(root.fields))
		for i, f := range root.fields {
			d.minSize = min(d.minSize, int(f.off+f.node.size))
			if used[i] {
				continue
			}
			c := cell{field: f}
			if f.pair > 0 {
				j := int(f.pair - 1)
				used[j] = true
				c.alt = &root.fields[j]
			}
			d.cells = append(d.cells, c)
		}
	default:
		d.cells = []cell{{field: field{node: root}}}
	}
	d.cols = make([]Column, len(d.cells))
	for i, c := range d.cells {
		member := c.name
		width := c.node.width()
		if c.alt != nil {
			// A pair prints under the name both share, SADDR, as wide
			// as an IPv4 address; IPv6 addresses push on.
			member, _, _ = addrName(c.name)
			width = (&node{kind: kIPv4}).width()
		}
		name := string(appendTextString(nil, []byte(strings.ToUpper(member))))
		if len(d.cells) == 1 && root.kind != kStruct && root.kind != kUnion {
			name = "VALUE"
		}
		d.cols[i] = Column{
			Name:   name,
			Member: member,
			Width:  max(width, len(name)),
			Align:  c.node.align(),
		}
	}
	d.all, d.allCols = d.cells, d.cols
	return d, nil
}

// Size returns the number of bytes an event needs: the size of the type.
// Longer events are fine; their extra bytes are ignored, except by a
// flexible array member at the end of the type.
func (d *Decoder) Size() int { return d.size }

// Columns returns the columns of the text format. The caller must not
// modify the returned slice.
func (d *Decoder) Columns() []Column { return d.cols }

// MinSize returns the size of the shortest event that holds a whole
// top-level member: events shorter than that print nothing but blanks
// (text) or an empty object (JSON).
func (d *Decoder) MinSize() int { return d.minSize }

// HasMember reports whether the type is a struct, union or datasec with
// a top-level member (or a member of an anonymous member) named name: a
// key of its JSON objects.
func (d *Decoder) HasMember(name string) bool {
	if d.root.kind != kStruct && d.root.kind != kUnion {
		return false
	}
	for _, f := range d.root.fields {
		if f.name == name {
			return true
		}
	}
	return false
}

// AppendJSON appends the event in data as one JSON value (an object for
// structs and unions), without a trailing newline. An event shorter than
// Size prints as far as it goes (see the package documentation); the
// error is always nil.
func (d *Decoder) AppendJSON(dst, data []byte) ([]byte, error) {
	if d.pick != nil {
		return d.jsonPicked(dst, data), nil
	}
	if len(data) < d.size {
		return d.jsonPart(dst, data, 0, d.root), nil
	}
	return d.json(dst, data, 0, d.root), nil
}

// AppendText appends the event in data as one row of the text format:
// one cell per column, separated by a space and padded to the column's
// width (wider values push the following cells to the right), without
// padding after the last cell and without a trailing newline. An event
// shorter than Size prints as far as it goes, members past its end as
// blank cells; the error is always nil.
func (d *Decoder) AppendText(dst, data []byte) ([]byte, error) {
	full := len(data) >= d.size
	last := len(d.cells) - 1
	for i := range d.cells {
		f := &d.cells[i].field
		hide := false
		if f.sel != nil && !d.shown(data, 0, f.sel) {
			// The other member of a pair prints; one chosen alone
			// (Select) leaves a blank cell.
			f, hide = d.cells[i].alt, d.cells[i].alt == nil
		}
		if i > 0 {
			dst = append(dst, ' ')
		}
		start := len(dst)
		switch {
		case hide:
		case full:
			dst = d.text(dst, data, int(f.off), f.node)
		default:
			dst = d.textField(dst, data, 0, f)
		}
		col := &d.cols[i]
		if col.Align == AlignRight {
			// Numbers are ASCII.
			if pad := col.Width - (len(dst) - start); pad > 0 {
				dst = padLeft(dst, start, pad)
			}
		} else if i != last {
			if pad := col.Width - runes(dst[start:]); pad > 0 {
				dst = appendSpaces(dst, pad)
			}
		}
	}
	return dst, nil
}

// WithoutColumns returns a decoder whose text format leaves out the
// top-level members with the given C names (e.g. raw stack arrays a caller
// prints symbolised instead). JSON output is unchanged.
func (d *Decoder) WithoutColumns(members ...string) *Decoder {
	drop := map[string]bool{}
	for _, m := range members {
		drop[m] = true
	}
	c := *d
	c.cells, c.cols = nil, nil
	for i, f := range d.cells {
		if drop[d.cols[i].Member] {
			continue
		}
		c.cells = append(c.cells, f)
		c.cols = append(c.cols, d.cols[i])
	}
	return &c
}

// AppendCell appends the text of column i alone, unpadded: what a table
// renderer that aligns cells itself needs; nothing for a member past the
// end of a short event. It fails only for a column that does not exist.
func (d *Decoder) AppendCell(dst, data []byte, i int) ([]byte, error) {
	if i < 0 || i >= len(d.cells) {
		return dst, fmt.Errorf("decode: column %d of %d", i, len(d.cells))
	}
	f := &d.cells[i].field
	if f.sel != nil && !d.shown(data, 0, f.sel) {
		if f = d.cells[i].alt; f == nil {
			return dst, nil
		}
	}
	if len(data) < d.size {
		return d.textField(dst, data, 0, f), nil
	}
	return d.text(dst, data, int(f.off), f.node), nil
}

// AppendHeader appends the column names padded like the cells of
// AppendText, without a trailing newline.
func (d *Decoder) AppendHeader(dst []byte) []byte {
	last := len(d.cols) - 1
	for i, col := range d.cols {
		if i > 0 {
			dst = append(dst, ' ')
		}
		pad := col.Width - len(col.Name)
		if col.Align == AlignRight && pad > 0 {
			dst = appendSpaces(dst, pad)
		}
		dst = append(dst, col.Name...)
		if col.Align == AlignLeft && pad > 0 && i != last {
			dst = appendSpaces(dst, pad)
		}
	}
	return dst
}

// runes counts the UTF-8 characters in b, which is valid UTF-8.
func runes(b []byte) int {
	n := len(b)
	for _, c := range b {
		if c&0xc0 == 0x80 {
			n--
		}
	}
	return n
}

// padLeft shifts dst[start:] right by pad bytes and fills the gap with
// spaces.
func padLeft(dst []byte, start, pad int) []byte {
	n := len(dst)
	dst = appendSpaces(dst, pad)
	copy(dst[start+pad:], dst[start:n])
	for i := start; i < start+pad; i++ {
		dst[i] = ' '
	}
	return dst
}

const spaces = "                                                                "

func appendSpaces(dst []byte, n int) []byte {
	for n > len(spaces) {
		dst = append(dst, spaces...)
		n -= len(spaces)
	}
	return append(dst, spaces[:n]...)
}

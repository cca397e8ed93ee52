package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ErrShortData is returned (wrapped) by the Append methods when an event has
// fewer bytes than [Decoder.Size].
var ErrShortData = errors.New("event data is shorter than its type")

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

// Decoder formats events of one BTF type. It is compiled once by [New] and
// is safe for concurrent use.
type Decoder struct {
	root      *node
	size      int
	be        bool
	maxValues uint64
	// top-level cells of the text format: the root's fields when it is a
	// struct, union or datasec, else one cell for the root itself.
	cells []field
	cols  []Column
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
	c := compiler{
		memo:      make(map[btf.Type]*node),
		maxDepth:  o.MaxDepth,
		maxValues: uint64(o.MaxValues),
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
	switch root.kind {
	case kStruct, kUnion:
		d.cells = root.fields
	default:
		d.cells = []field{{node: root}}
	}
	d.cols = make([]Column, len(d.cells))
	for i, f := range d.cells {
		name := string(appendTextString(nil, []byte(strings.ToUpper(f.name))))
		if len(d.cells) == 1 && root.kind != kStruct && root.kind != kUnion {
			name = "VALUE"
		}
		d.cols[i] = Column{
			Name:   name,
			Member: f.name,
			Width:  max(f.node.width(), len(name)),
			Align:  f.node.align(),
		}
	}
	return d, nil
}

// Size returns the number of bytes an event needs: the size of the type.
// Longer events are fine; their extra bytes are ignored, except by a
// flexible array member at the end of the type.
func (d *Decoder) Size() int { return d.size }

// Columns returns the columns of the text format. The caller must not
// modify the returned slice.
func (d *Decoder) Columns() []Column { return d.cols }

// AppendJSON appends the event in data as one JSON value (an object for
// structs and unions), without a trailing newline. It returns dst
// unchanged and an error wrapping [ErrShortData] if data is shorter than
// Size.
func (d *Decoder) AppendJSON(dst, data []byte) ([]byte, error) {
	if len(data) < d.size {
		return dst, d.short(data)
	}
	return d.json(dst, data, 0, d.root), nil
}

// AppendText appends the event in data as one row of the text format:
// one cell per column, separated by a space and padded to the column's
// width (wider values push the following cells to the right), without
// padding after the last cell and without a trailing newline. It returns
// dst unchanged and an error wrapping [ErrShortData] if data is shorter
// than Size.
func (d *Decoder) AppendText(dst, data []byte) ([]byte, error) {
	if len(data) < d.size {
		return dst, d.short(data)
	}
	last := len(d.cells) - 1
	for i := range d.cells {
		f := &d.cells[i]
		if i > 0 {
			dst = append(dst, ' ')
		}
		start := len(dst)
		dst = d.text(dst, data, int(f.off), f.node)
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
// renderer that aligns cells itself needs. It returns dst unchanged and an
// error wrapping [ErrShortData] if data is shorter than Size.
func (d *Decoder) AppendCell(dst, data []byte, i int) ([]byte, error) {
	if len(data) < d.size {
		return dst, d.short(data)
	}
	if i < 0 || i >= len(d.cells) {
		return dst, fmt.Errorf("decode: column %d of %d", i, len(d.cells))
	}
	f := &d.cells[i]
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

func (d *Decoder) short(data []byte) error {
	return fmt.Errorf("%w: %d bytes, need %d", ErrShortData, len(data), d.size)
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

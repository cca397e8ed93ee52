package decode

import (
	"fmt"
	"strings"
)

// This file chooses which top-level members an event prints, and in which
// order (Select), and finds members by name for filters (filter.go).

// UnknownFieldError is returned by [Decoder.Select] and
// [Decoder.NewMatcher] for a name that is no field of the type.
type UnknownFieldError struct {
	Name string
	// Fields are the names the type has, in declaration order.
	Fields []string
}

func (e *UnknownFieldError) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("no field %q: these events are not a struct", e.Name)
	}
	return fmt.Sprintf("no field %q; the fields are %s", e.Name, strings.Join(e.Fields, ", "))
}

// picked is a top-level member a selection prints in JSON.
type picked struct {
	*field
	key string // `"name":`, without a leading comma
}

// named is a field a name finds: a cell (an address pair answers to the
// name both share, saddr), or one member of a pair (saddr_v4).
type named struct {
	name string
	c    cell
	col  Column
}

// names lists what Select and filters accept: each cell by its member
// name, then the members of address pairs by their own.
func (d *Decoder) names() []named {
	var ns []named
	for i, c := range d.all {
		ns = append(ns, named{name: d.allCols[i].Member, c: c, col: d.allCols[i]})
	}
	for _, c := range d.all {
		if c.alt == nil {
			continue
		}
		for _, f := range []*field{&c.field, c.alt} {
			name := string(appendTextString(nil, []byte(strings.ToUpper(f.name))))
			ns = append(ns, named{name: f.name, c: cell{field: *f}, col: Column{
				Name: name, Member: f.name, Width: max(f.node.width(), len(name)), Align: f.node.align(),
			}})
		}
	}
	return ns
}

// lookup finds a field by its C name, or else by a name that differs only
// in case (PID for pid) when one field alone answers to it.
func (d *Decoder) lookup(name string) (named, error) {
	ns := d.names()
	for _, n := range ns {
		if n.name == name {
			return n, nil
		}
	}
	var found []named
	for _, n := range ns {
		if strings.EqualFold(n.name, name) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return named{}, &UnknownFieldError{Name: name, Fields: d.Fields()}
}

// Fields returns the names of the top-level members, in declaration order,
// that [Decoder.Select] and filters accept (an address pair saddr_v4 and
// saddr_v6 is listed once, as saddr; its members' own names work too).
// They are empty when the type is not a struct or union.
func (d *Decoder) Fields() []string {
	if !d.composite() {
		return nil
	}
	names := make([]string, len(d.allCols))
	for i, c := range d.allCols {
		names[i] = c.Member
	}
	return names
}

func (d *Decoder) composite() bool {
	return d.root.kind == kStruct || d.root.kind == kUnion
}

// Select returns a decoder that prints only the named top-level members,
// in the order given, in text (its columns) and JSON (its keys). A name is
// a member's C name (or one that differs only in case, PID for pid, when
// no other member answers to it); an address pair prints under the name
// both members share (saddr for saddr_v4 and saddr_v6). Members that
// [Decoder.WithoutColumns] left out count too. A name that is no member
// is an [*UnknownFieldError], as is any name when the type is not a
// struct or union. Naming a member twice prints it once.
func (d *Decoder) Select(names ...string) (*Decoder, error) {
	if !d.composite() {
		if len(names) == 0 {
			return d, nil
		}
		return nil, &UnknownFieldError{Name: names[0]}
	}
	c := *d
	c.cells, c.cols = nil, nil
	c.pick = []picked{}
	seen := map[string]bool{}
	for _, name := range names {
		n, err := d.lookup(name)
		if err != nil {
			return nil, err
		}
		if seen[n.name] {
			continue
		}
		seen[n.name] = true
		c.cells = append(c.cells, n.c)
		c.cols = append(c.cols, n.col)
		for _, f := range []*field{&n.c.field, n.c.alt} {
			if f != nil {
				c.pick = append(c.pick, picked{field: f, key: strings.TrimPrefix(f.jkey, ",")})
			}
		}
	}
	return &c, nil
}

// jsonPicked appends the members a selection picked as one JSON object,
// leaving out, as for the whole struct, those data does not hold and
// those their family member hides.
func (d *Decoder) jsonPicked(dst, data []byte) []byte {
	dst = append(dst, '{')
	first := true
	for i := range d.pick {
		f := d.pick[i].field
		if f.sel != nil && !d.shown(data, 0, f.sel) {
			continue
		}
		at := int(f.off)
		whole, part := fits(data, at, f.node)
		if !whole && !part {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, d.pick[i].key...)
		if whole {
			dst = d.json(dst, data, at, f.node)
		} else {
			dst = d.jsonPart(dst, data, at, f.node)
		}
	}
	return append(dst, '}')
}

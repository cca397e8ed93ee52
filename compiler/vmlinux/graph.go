package vmlinux

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// kind is the flattened kind of a type. The writer works on a dense table of
// nodes indexed by position rather than on btf.Type values, so that per-type
// state needs no map look-ups.
type kind uint8

const (
	kindSkip kind = iota // functions, variables, data sections: never written
	kindVoid
	kindInt
	kindFloat
	kindPtr
	kindArray
	kindStruct
	kindUnion
	kindEnum
	kindFwd
	kindTypedef
	kindVolatile
	kindConst
	kindRestrict
	kindTypeTag
	kindFuncProto
)

// Ordering and emission states.
const (
	stateNone uint8 = iota
	stateBusy
	stateDone
)

// node is one type of the table. Index 0 is void.
type node struct {
	name string
	// renamed is the name written for the type once it has been resolved
	// (the original name or name___N).
	renamed string
	// size in bytes for ints, floats, enums, structs and unions.
	size uint32
	// ref is the target of pointers, typedefs, qualifiers and type tags,
	// the element type of arrays, the return type of prototypes and the
	// prototype of functions.
	ref    int32
	nelems uint32
	// first and vlen select the members or parameters in dumper.fields, or
	// the values of enums in dumper.enums.
	first int32
	vlen  int32
	// align caches alignOf for structs and unions: 0 unknown, -1 in
	// progress, otherwise alignment+1.
	align int16
	kind  kind

	union      bool // Fwd of a union
	signed     bool // Enum with signed values
	resolved   bool // renamed is valid
	referenced bool // referenced by another type
	order      uint8
	emit       uint8
	fwdDone    bool
	// fn marks a function (kindSkip), whose ref is its prototype; tags
	// holds the declaration tags the kfunc block looks for.
	fn   bool
	tags declTags
}

// enumValue is one enumerator. value holds signed values sign-extended.
type enumValue struct {
	name  string
	value uint64
}

// field is a struct/union member or a function parameter.
type field struct {
	name string
	typ  int32
	off  uint32 // bit offset
	bits uint32 // bitfield size, 0 if not a bitfield
}

// load flattens every type of spec into d.nodes, in type ID order. Types
// referenced but not iterated by spec.All (for example those of a base spec)
// are appended after the others.
func (d *dumper) load(spec *btf.Spec) error {
	if spec == nil {
		return fmt.Errorf("nil spec")
	}
	var types []btf.Type
	for typ, err := range spec.All() {
		if err != nil {
			return fmt.Errorf("read BTF: %w", err)
		}
		if _, ok := typ.(*btf.Void); ok {
			continue
		}
		types = append(types, typ)
	}
	return d.build(types)
}

// build flattens types (which must not contain Void) into d.nodes.
func (d *dumper) build(types []btf.Type) error {
	idx := newPtrIndex(len(types))
	for i, t := range types {
		idx.insert(typeKey(t), int32(i+1))
	}

	lookup := func(t btf.Type) int32 {
		if t == nil {
			return 0
		}
		if _, ok := t.(*btf.Void); ok {
			return 0
		}
		k := typeKey(t)
		if id, ok := idx.get(k); ok {
			return id
		}
		types = append(types, t)
		id := int32(len(types))
		idx.insert(k, id)
		return id
	}

	d.nodes = make([]node, 1, len(types)+1)
	d.nodes[0] = node{kind: kindVoid, order: stateDone, emit: stateDone}
	nfields := 0
	for _, t := range types {
		switch t := t.(type) {
		case *btf.Struct:
			nfields += len(t.Members)
		case *btf.Union:
			nfields += len(t.Members)
		case *btf.FuncProto:
			nfields += len(t.Params)
		}
	}
	d.fields = make([]field, 0, nfields)

	// types grows while converting when a type outside the spec's own list
	// is referenced.
	for i := 0; i < len(types); i++ {
		var n node
		switch t := types[i].(type) {
		case *btf.Int:
			n = node{kind: kindInt, name: t.Name, size: t.Size}
		case *btf.Float:
			n = node{kind: kindFloat, name: t.Name, size: t.Size}
		case *btf.Pointer:
			n = node{kind: kindPtr, ref: lookup(t.Target)}
		case *btf.Array:
			n = node{kind: kindArray, ref: lookup(t.Type), nelems: t.Nelems}
		case *btf.Struct:
			n = node{kind: kindStruct, name: t.Name, size: t.Size}
			n.first, n.vlen = d.addMembers(t.Members, lookup)
		case *btf.Union:
			n = node{kind: kindUnion, name: t.Name, size: t.Size}
			n.first, n.vlen = d.addMembers(t.Members, lookup)
		case *btf.Enum:
			n = node{kind: kindEnum, name: t.Name, size: t.Size, signed: t.Signed}
			n.first, n.vlen = int32(len(d.enums)), int32(len(t.Values))
			for _, v := range t.Values {
				d.enums = append(d.enums, enumValue{v.Name, v.Value})
			}
		case *btf.Fwd:
			n = node{kind: kindFwd, name: t.Name, union: t.Kind == btf.FwdUnion}
		case *btf.Typedef:
			n = node{kind: kindTypedef, name: t.Name, ref: lookup(t.Type)}
		case *btf.Volatile:
			n = node{kind: kindVolatile, ref: lookup(t.Type)}
		case *btf.Const:
			n = node{kind: kindConst, ref: lookup(t.Type)}
		case *btf.Restrict:
			n = node{kind: kindRestrict, ref: lookup(t.Type)}
		case *btf.TypeTag:
			n = node{kind: kindTypeTag, name: t.Value, ref: lookup(t.Type)}
		case *btf.FuncProto:
			n = node{kind: kindFuncProto, ref: lookup(t.Return)}
			n.first = int32(len(d.fields))
			for _, p := range t.Params {
				d.fields = append(d.fields, field{name: p.Name, typ: lookup(p.Type)})
			}
			n.vlen = int32(len(t.Params))
		case *btf.Var:
			// A variable may be the only user of an anonymous enum,
			// which then must not be written as a top-level one.
			n = node{kind: kindSkip, name: t.Name, ref: lookup(t.Type)}
		case *btf.Func:
			n = node{kind: kindSkip, name: t.Name, fn: true, ref: lookup(t.Type)}
			for _, tag := range t.Tags {
				n.tags |= declTagOf(tag)
			}
		case *btf.Datasec:
			n = node{kind: kindSkip, name: t.Name}
		default:
			return fmt.Errorf("type %v: unsupported BTF type %T", types[i], types[i])
		}
		d.nodes = append(d.nodes, n)
	}

	d.markReferenced()
	return nil
}

// markReferenced records which types other types refer to: an anonymous
// enum nobody refers to is a block of global constants, written on its own.
func (d *dumper) markReferenced() {
	for i := 1; i < len(d.nodes); i++ {
		n := &d.nodes[i]
		switch n.kind {
		case kindSkip:
			if !n.fn {
				d.nodes[n.ref].referenced = true
			}
		case kindPtr, kindArray, kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag:
			d.nodes[n.ref].referenced = true
		case kindStruct, kindUnion, kindFuncProto:
			for _, f := range d.fields[n.first : n.first+n.vlen] {
				d.nodes[f.typ].referenced = true
			}
		}
	}
	// Variables were only needed for the marking above; functions keep
	// their prototype for the kfunc block.
	for i := 1; i < len(d.nodes); i++ {
		if d.nodes[i].kind == kindSkip && !d.nodes[i].fn {
			d.nodes[i].ref = 0
		}
	}
}

func (d *dumper) addMembers(ms []btf.Member, lookup func(btf.Type) int32) (first, n int32) {
	first = int32(len(d.fields))
	for _, m := range ms {
		d.fields = append(d.fields, field{
			name: m.Name,
			typ:  lookup(m.Type),
			off:  uint32(m.Offset),
			bits: uint32(m.BitfieldSize),
		})
	}
	return first, int32(len(ms))
}

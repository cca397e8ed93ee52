// Package btfgen cuts a kernel's BTF down to what one BPF object's CO-RE
// relocations need, as `bpftool gen min_core_btf` does: a few kilobytes
// that a package can carry for kernels that have no BTF of their own.
//
// For each relocation of the object (read from its .BTF.ext) and each
// kernel type it may resolve to (same name, as cilium/ebpf looks them up),
// btfgen keeps the root type, and then:
//   - field relocations: the members along the access path (through
//     anonymous structs and unions) and their types, pointers kept as
//     pointers to void unless something else keeps their target;
//   - type relocations (exists, size, target ID): the type and what it
//     refers to, pointers followed, structs and unions without members;
//   - type-matches relocations: the members the local type has, recursively;
//   - enum value relocations: the whole enum.
//
// Minimize then checks its own result: every relocation must come out the
// same, instruction for instruction, against the cut BTF as against the
// whole (cilium/ebpf's btf.CORERelocate both ways).
package btfgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Result is a minimised BTF and what it came from.
type Result struct {
	// BTF is the minimised raw BTF, in the kernel's byte order.
	BTF []byte
	// FullSize is the size of the kernel's whole BTF.
	FullSize int
	// Types counts the types kept; Relocations the object's CO-RE
	// relocations (each distinct one once).
	Types, Relocations int
}

// Minimize returns the part of kernel (raw BTF) that object's CO-RE
// relocations need, checked to relocate every program of the object
// exactly as kernel does.
func Minimize(object, kernel []byte) (*Result, error) {
	bo, err := btfOrder(kernel)
	if err != nil {
		return nil, err
	}
	full, err := btf.LoadSpecFromReader(bytes.NewReader(kernel))
	if err != nil {
		return nil, fmt.Errorf("read the kernel's BTF: %w", err)
	}
	relos, err := readRelocations(object)
	if err != nil {
		return nil, fmt.Errorf("read the object's CO-RE relocations: %w", err)
	}
	m := &minimizer{target: full, kept: map[btf.Type]*kept{}}
	for _, r := range relos {
		if err := m.mark(r); err != nil {
			return nil, err
		}
	}
	types, err := m.types()
	if err != nil {
		return nil, err
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		return nil, fmt.Errorf("encode the minimised BTF: %w", err)
	}
	out, err := b.Marshal(nil, &btf.MarshalOptions{Order: bo, PreventNoTypeFound: true})
	if err != nil {
		return nil, fmt.Errorf("encode the minimised BTF: %w", err)
	}
	min, err := btf.LoadSpecFromReader(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("read back the minimised BTF: %w", err)
	}
	if err := Compare(object, full, min); err != nil {
		return nil, err
	}
	return &Result{BTF: out, FullSize: len(kernel), Types: len(types), Relocations: len(relos)}, nil
}

// btfOrder reads the byte order of raw BTF from its magic.
func btfOrder(raw []byte) (binary.ByteOrder, error) {
	switch {
	case len(raw) >= 24 && binary.LittleEndian.Uint16(raw) == 0xeB9F:
		return binary.LittleEndian, nil
	case len(raw) >= 24 && binary.BigEndian.Uint16(raw) == 0xeB9F:
		return binary.BigEndian, nil
	}
	return nil, errors.New("the kernel's BTF does not start with a BTF header")
}

// kept is what is kept of a kernel type: the type, and for structs and
// unions the indexes of the members kept.
type kept struct {
	members map[int]bool
	// followed: pointers under this type were followed.
	followed bool
}

type minimizer struct {
	target *btf.Spec
	kept   map[btf.Type]*kept
}

// candidates are the kernel types a relocation of local may resolve to:
// those named as local is without its ___flavour suffix, as
// btf.CORERelocate looks them up (kernel type names have no flavours).
func (m *minimizer) candidates(local btf.Type) ([]btf.Type, error) {
	name := local.TypeName()
	if name == "" {
		return nil, nil
	}
	if i := strings.LastIndex(name, "___"); i > 0 {
		name = name[:i]
	}
	ts, err := m.target.AnyTypesByName(name)
	if errors.Is(err, btf.ErrNotFound) {
		return nil, nil
	}
	return ts, err
}

func (m *minimizer) mark(r relocation) error {
	if r.kind == kindTypeIDLocal {
		return nil
	}
	cands, err := m.candidates(r.local)
	if err != nil {
		return err
	}
	for _, c := range cands {
		switch r.kind {
		case kindFieldByteOffset, kindFieldByteSize, kindFieldExists, kindFieldSigned, kindFieldLShift, kindFieldRShift:
			m.markField(r.local, r.access, c)
		case kindTypeIDTarget, kindTypeExists, kindTypeSize:
			m.markType(c, true)
		case kindEnumvalExists, kindEnumvalValue:
			m.markType(c, false)
		case kindTypeMatches:
			m.markMatch(r.local, c, map[[2]btf.Type]bool{})
		default:
			return fmt.Errorf("CO-RE relocation of kind %d on %s: unknown kind", r.kind, r.local)
		}
	}
	return nil
}

// markType keeps t and the types it is made of; pointers' targets only
// when follow is set. Structs and unions are kept without their members.
func (m *minimizer) markType(t btf.Type, follow bool) {
	if _, void := t.(*btf.Void); void || t == nil {
		return
	}
	k, seen := m.kept[t]
	if seen && (k.followed || !follow) {
		return
	}
	if !seen {
		k = &kept{}
		m.kept[t] = k
	}
	k.followed = k.followed || follow
	switch v := t.(type) {
	case *btf.Pointer:
		if follow {
			m.markType(v.Target, true)
		}
	case *btf.Typedef:
		m.markType(v.Type, follow)
	case *btf.Const:
		m.markType(v.Type, follow)
	case *btf.Volatile:
		m.markType(v.Type, follow)
	case *btf.Restrict:
		m.markType(v.Type, follow)
	case *btf.TypeTag:
		m.markType(v.Type, follow)
	case *btf.Array:
		m.markType(v.Type, follow)
		m.markType(v.Index, follow)
	case *btf.FuncProto:
		m.markType(v.Return, follow)
		for _, p := range v.Params {
			m.markType(p.Type, follow)
		}
	}
}

// markMember keeps member i of the struct or union c, and its type.
func (m *minimizer) markMember(c btf.Type, i int) {
	m.markType(c, false)
	k := m.kept[c]
	if k.members == nil {
		k.members = map[int]bool{}
	}
	k.members[i] = true
	m.markType(members(c)[i].Type, false)
}

func members(t btf.Type) []btf.Member {
	switch v := t.(type) {
	case *btf.Struct:
		return v.Members
	case *btf.Union:
		return v.Members
	}
	return nil
}

func isComposite(t btf.Type) bool {
	switch t.(type) {
	case *btf.Struct, *btf.Union:
		return true
	}
	return false
}

// markField follows a field relocation's access path through local and
// target together, as cilium/ebpf's coreFindField does, keeping the
// target's members on the way. It stops where the path stops matching:
// the relocation fails there against the whole BTF too.
func (m *minimizer) markField(local btf.Type, access []int, target btf.Type) {
	m.markType(target, false)
	for _, a := range access[1:] {
		switch lt := btf.UnderlyingType(local).(type) {
		case *btf.Struct, *btf.Union:
			lm := members(lt)
			if a >= len(lm) {
				return
			}
			member := lm[a]
			if member.Name == "" {
				// An anonymous struct or union: the target is searched
				// by the name of what is inside.
				local = member.Type
				continue
			}
			tc := btf.UnderlyingType(target)
			if !isComposite(tc) {
				return
			}
			path := findMember(tc, member.Name)
			if path == nil {
				return
			}
			for _, s := range path {
				m.markMember(s.c, s.i)
			}
			last := path[len(path)-1]
			local, target = member.Type, members(last.c)[last.i].Type
		case *btf.Array:
			ta, ok := btf.UnderlyingType(target).(*btf.Array)
			if !ok {
				return
			}
			local, target = lt.Type, ta.Type
		default:
			return
		}
	}
}

type step struct {
	c btf.Type
	i int
}

// findMember finds a member by name in a struct or union, looking into
// anonymous members breadth first (cilium/ebpf's coreFindMember), and
// returns the steps to it.
func findMember(c btf.Type, name string) []step {
	type node struct {
		c    btf.Type
		path []step
	}
	queue := []node{{c, nil}}
	visited := map[btf.Type]bool{}
	for len(queue) > 0 && len(visited) < 32 {
		n := queue[0]
		queue = queue[1:]
		if visited[n.c] {
			continue
		}
		visited[n.c] = true
		for j, mb := range members(n.c) {
			path := append(slices.Clone(n.path), step{n.c, j})
			if mb.Name == name {
				return path
			}
			if mb.Name != "" {
				continue
			}
			if inner := btf.UnderlyingType(mb.Type); isComposite(inner) {
				queue = append(queue, node{inner, path})
			}
		}
	}
	return nil
}

// markMatch keeps what a type-matches relocation compares (cilium/ebpf's
// coreTypesMatch): for structs and unions, the target members the local
// type names, recursively, through pointers and arrays.
func (m *minimizer) markMatch(local, target btf.Type, visited map[[2]btf.Type]bool) {
	m.markType(target, false)
	l, t := btf.UnderlyingType(local), btf.UnderlyingType(target)
	if visited[[2]btf.Type{l, t}] {
		return
	}
	visited[[2]btf.Type{l, t}] = true
	switch lv := l.(type) {
	case *btf.Struct, *btf.Union:
		if !isComposite(t) {
			return
		}
		tm := members(t)
		for _, lm := range members(lv) {
			// The last target member of the name, as a map keyed by
			// name would hold it.
			for j := len(tm) - 1; j >= 0; j-- {
				if tm[j].Name == lm.Name {
					m.markMember(t, j)
					m.markMatch(lm.Type, tm[j].Type, visited)
					break
				}
			}
		}
	case *btf.Pointer:
		if tv, ok := t.(*btf.Pointer); ok {
			m.markMatch(lv.Target, tv.Target, visited)
		}
	case *btf.Array:
		if tv, ok := t.(*btf.Array); ok {
			m.markMatch(lv.Type, tv.Type, visited)
		}
	case *btf.FuncProto:
		if tv, ok := t.(*btf.FuncProto); ok {
			m.markMatch(lv.Return, tv.Return, visited)
			for i := range min(len(lv.Params), len(tv.Params)) {
				m.markMatch(lv.Params[i].Type, tv.Params[i].Type, visited)
			}
		}
	}
}

// types copies the kept types, in the kernel's order, with only their kept
// members; references to types not kept become void.
func (m *minimizer) types() ([]btf.Type, error) {
	type entry struct {
		id btf.TypeID
		t  btf.Type
	}
	var order []entry
	for t := range m.kept {
		id, err := m.target.TypeID(t)
		if err != nil {
			return nil, err
		}
		order = append(order, entry{id, t})
	}
	slices.SortFunc(order, func(a, b entry) int { return int(a.id) - int(b.id) })
	copies := make(map[btf.Type]btf.Type, len(order))
	for _, e := range order {
		copies[e.t] = shallowCopy(e.t)
	}
	remap := func(t btf.Type) btf.Type {
		if c, ok := copies[t]; ok {
			return c
		}
		return &btf.Void{}
	}
	out := make([]btf.Type, 0, len(order))
	for _, e := range order {
		c := copies[e.t]
		switch v := c.(type) {
		case *btf.Struct:
			v.Members = keptMembers(e.t, m.kept[e.t], remap)
		case *btf.Union:
			v.Members = keptMembers(e.t, m.kept[e.t], remap)
		case *btf.Pointer:
			v.Target = remap(v.Target)
		case *btf.Typedef:
			v.Type = remap(v.Type)
		case *btf.Const:
			v.Type = remap(v.Type)
		case *btf.Volatile:
			v.Type = remap(v.Type)
		case *btf.Restrict:
			v.Type = remap(v.Type)
		case *btf.TypeTag:
			v.Type = remap(v.Type)
		case *btf.Array:
			v.Type, v.Index = remap(v.Type), remap(v.Index)
		case *btf.FuncProto:
			v.Return = remap(v.Return)
			for i := range v.Params {
				v.Params[i].Type = remap(v.Params[i].Type)
			}
		case *btf.Func:
			v.Type = remap(v.Type)
		case *btf.Int, *btf.Float, *btf.Enum, *btf.Fwd:
		default:
			return nil, fmt.Errorf("minimise BTF: cannot keep a %T (%s)", e.t, e.t)
		}
		out = append(out, c)
	}
	return out, nil
}

// shallowCopy copies a type without what it refers to (fixed up after).
func shallowCopy(t btf.Type) btf.Type {
	switch v := t.(type) {
	case *btf.Struct:
		return &btf.Struct{Name: v.Name, Size: v.Size}
	case *btf.Union:
		return &btf.Union{Name: v.Name, Size: v.Size}
	case *btf.Pointer:
		c := *v
		return &c
	case *btf.Typedef:
		return &btf.Typedef{Name: v.Name, Type: v.Type}
	case *btf.Const:
		c := *v
		return &c
	case *btf.Volatile:
		c := *v
		return &c
	case *btf.Restrict:
		c := *v
		return &c
	case *btf.TypeTag:
		c := *v
		return &c
	case *btf.Array:
		c := *v
		return &c
	case *btf.FuncProto:
		return &btf.FuncProto{Return: v.Return, Params: slices.Clone(v.Params)}
	case *btf.Func:
		c := *v
		return &c
	case *btf.Int:
		c := *v
		return &c
	case *btf.Float:
		c := *v
		return &c
	case *btf.Enum:
		c := *v
		c.Values = slices.Clone(v.Values)
		return &c
	case *btf.Fwd:
		c := *v
		return &c
	}
	return t
}

func keptMembers(orig btf.Type, k *kept, remap func(btf.Type) btf.Type) []btf.Member {
	var out []btf.Member
	for i, mb := range members(orig) {
		if k.members[i] {
			out = append(out, btf.Member{Name: mb.Name, Type: remap(mb.Type), Offset: mb.Offset, BitfieldSize: mb.BitfieldSize})
		}
	}
	return out
}

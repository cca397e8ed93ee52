package vmlinux

import (
	"fmt"
	"io"
	"strconv"
)

const (
	// flushSize is how much output is buffered before it is written out.
	flushSize = 64 << 10
	// maxDepth bounds recursion over type chains, so that cyclic type
	// graphs (which cilium/ebpf can represent) end in an error instead of
	// exhausting the stack.
	maxDepth = 2048
	// ptrSize is the size of pointers and of long on the BPF target.
	ptrSize = 8
	// maxIndent is the deepest indentation written, in tabs.
	maxIndent = 13
	// maxGap is the largest hole, in bits, padding may fill (2 MiB; the
	// largest record of Linux 6.18 is 236 KiB), and maxOutput bounds the
	// header size, so that corrupt sizes and offsets cannot make Write
	// produce endless output.
	maxGap    = 1 << 24
	maxOutput = 1 << 30
)

const tabs = "\t\t\t\t\t\t\t\t\t\t\t\t\t"

// dumper holds the type table and the output state of one Write.
type dumper struct {
	w    io.Writer
	buf  []byte
	werr error
	err  error // first error that makes the header wrong
	// flushed counts the bytes already handed to w.
	flushed int

	nodes  []node
	fields []field
	enums  []enumValue

	queue []int32 // types to define, in dependency order
	stack []int32 // declarator chains, see decl

	tagNames   map[string]int // struct, union and enum tags
	identNames map[string]int // typedef names and enumerators
}

func (d *dumper) str(s string) { d.buf = append(d.buf, s...) }

func (d *dumper) byte(c byte) { d.buf = append(d.buf, c) }

func (d *dumper) uint(v uint64) { d.buf = strconv.AppendUint(d.buf, v, 10) }

func (d *dumper) int(v int64) { d.buf = strconv.AppendInt(d.buf, v, 10) }

func (d *dumper) indent(lvl int) {
	d.str(tabs[:min(lvl, maxIndent)])
}

func (d *dumper) flush() error {
	if d.werr == nil && len(d.buf) > 0 {
		_, d.werr = d.w.Write(d.buf)
	}
	d.flushed += len(d.buf)
	d.buf = d.buf[:0]
	return d.werr
}

func (d *dumper) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// describe names a type for error messages.
func (d *dumper) describe(id int32) string {
	n := &d.nodes[id]
	k := [...]string{"non-type", "void", "int", "float", "pointer", "array", "struct", "union",
		"enum", "fwd", "typedef", "volatile", "const", "restrict", "type tag", "func proto"}[n.kind]
	if n.name == "" {
		return fmt.Sprintf("%s (anonymous, #%d)", k, id)
	}
	return fmt.Sprintf("%s %s", k, n.name)
}

// dumpAll writes the definitions of all types. Like bpftool, each type in
// turn is sorted topologically together with what it depends on, and the
// definitions it needs that were not written yet are written before it.
func (d *dumper) dumpAll() error {
	d.tagNames = make(map[string]int, 1024)
	d.identNames = make(map[string]int, 1024)
	d.stack = make([]int32, 0, 64)
	for id := int32(1); id < int32(len(d.nodes)); id++ {
		if d.nodes[id].order == stateDone {
			continue
		}
		d.queue = d.queue[:0]
		if _, err := d.order(id, false, 0); err != nil {
			return err
		}
		for _, q := range d.queue {
			d.emitType(q, 0, 0)
		}
		if d.err != nil {
			return d.err
		}
		if len(d.buf) >= flushSize {
			if err := d.flush(); err != nil {
				return err
			}
		}
	}
	return d.err
}

// order sorts id and the types it needs, appending to d.queue those that
// need a top-level definition. It reports whether the link to id is
// strong, that is whether id must be fully defined (not just declared)
// before its user. A pointer makes links to named types weak: a forward
// declaration is enough.
func (d *dumper) order(id int32, viaPtr bool, depth int) (bool, error) {
	n := &d.nodes[id]
	if n.order == stateDone {
		return true, nil
	}
	if depth > maxDepth {
		return false, fmt.Errorf("%s: %w", d.describe(id), errTooDeep)
	}
	if n.order == stateBusy {
		if (n.kind == kindStruct || n.kind == kindUnion) && viaPtr && n.name != "" {
			return false, nil
		}
		return false, fmt.Errorf("%s: unsatisfiable type cycle", d.describe(id))
	}
	depth++

	switch n.kind {
	case kindInt, kindFloat:
		n.order = stateDone
		return false, nil

	case kindPtr:
		strong, err := d.order(n.ref, true, depth)
		d.nodes[id].order = stateDone
		return strong, err

	case kindArray:
		return d.order(n.ref, false, depth)

	case kindStruct, kindUnion:
		// Only embedded or anonymous (so defined inline) records need
		// their definition first.
		if viaPtr && n.name != "" {
			return false, nil
		}
		n.order = stateBusy
		for _, f := range d.fields[n.first : n.first+n.vlen] {
			if _, err := d.order(f.typ, false, depth); err != nil {
				return false, err
			}
		}
		n = &d.nodes[id]
		if n.name != "" {
			d.queue = append(d.queue, id)
		}
		n.order = stateDone
		return true, nil

	case kindEnum, kindFwd:
		// Named or unreferenced enums are top-level declarations; the
		// other ones are written inline where they are used.
		if n.name != "" || !n.referenced {
			d.queue = append(d.queue, id)
		}
		n.order = stateDone
		return true, nil

	case kindTypedef:
		strong, err := d.order(n.ref, viaPtr, depth)
		if err != nil {
			return false, err
		}
		if viaPtr && !strong {
			return false, nil
		}
		d.queue = append(d.queue, id)
		d.nodes[id].order = stateDone
		return true, nil

	case kindVolatile, kindConst, kindRestrict, kindTypeTag:
		return d.order(n.ref, viaPtr, depth)

	case kindFuncProto:
		first, vlen := n.first, n.vlen
		strong, err := d.order(n.ref, viaPtr, depth)
		if err != nil {
			return false, err
		}
		for i := first; i < first+vlen; i++ {
			s, err := d.order(d.fields[i].typ, viaPtr, depth)
			if err != nil {
				return false, err
			}
			strong = strong || s
		}
		return strong, nil

	default: // kindSkip
		n.order = stateDone
		return false, nil
	}
}

// emitType writes what the definition of id needs, and the definition
// itself when it is top-level (cont == 0). cont is the record being defined
// when id is reached through its members.
func (d *dumper) emitType(id, cont int32, depth int) {
	n := &d.nodes[id]
	if n.emit == stateDone {
		return
	}
	if depth > maxDepth {
		d.fail(fmt.Errorf("%s: %w", d.describe(id), errTooDeep))
		return
	}
	depth++

	if n.emit == stateBusy {
		// A cycle: a forward declaration breaks it.
		if n.fwdDone {
			return
		}
		switch n.kind {
		case kindStruct, kindUnion:
			if id == cont || n.name == "" {
				return
			}
			d.recordFwd(id)
			d.str(";\n\n")
			n.fwdDone = true
		case kindTypedef:
			// The typedef can serve pointers from here on, but not
			// embedding; it stays busy.
			if n.name != "__builtin_va_list" {
				d.typedefDef(id, 0)
				d.str(";\n\n")
			}
			n.fwdDone = true
		}
		return
	}

	switch n.kind {
	case kindInt:
		d.missingAlias(id)
		n.emit = stateDone

	case kindEnum:
		if cont == 0 {
			d.enumDef(id, 0)
			d.str(";\n\n")
		}
		d.nodes[id].emit = stateDone

	case kindPtr, kindVolatile, kindConst, kindRestrict, kindTypeTag, kindArray:
		d.emitType(n.ref, cont, depth)

	case kindFwd:
		d.fwdDef(id)
		d.str(";\n\n")
		n.emit = stateDone

	case kindTypedef:
		n.emit = stateBusy
		d.emitType(n.ref, id, depth)
		n = &d.nodes[id]
		if !n.fwdDone && n.name != "__builtin_va_list" {
			d.typedefDef(id, 0)
			d.str(";\n\n")
		}
		n.emit = stateDone

	case kindStruct, kindUnion:
		n.emit = stateBusy
		if cont == 0 || n.name == "" {
			// The members are written out: whatever they refer to must
			// be declared first.
			inner := id
			if n.name == "" {
				inner = cont
			}
			for i := n.first; i < n.first+n.vlen; i++ {
				d.emitType(d.fields[i].typ, inner, depth)
			}
		} else if !n.fwdDone && id != cont {
			d.recordFwd(id)
			d.str(";\n\n")
			n.fwdDone = true
		}
		if cont == 0 {
			d.recordDef(id, 0)
			d.str(";\n\n")
			n.emit = stateDone
		} else {
			n.emit = stateNone
		}

	case kindFuncProto:
		d.emitType(n.ref, cont, depth)
		for i := n.first; i < n.first+n.vlen; i++ {
			d.emitType(d.fields[i].typ, cont, depth)
		}
	}
}

// dups counts one more use of name in m and returns the count.
func dups(m map[string]int, name string) int {
	c := m[name] + 1
	m[name] = c
	return c
}

// resolveName returns the name written for id: its own, or name___N for
// the Nth distinct type using it, decided on first use.
func (d *dumper) resolveName(id int32, m map[string]int) string {
	n := &d.nodes[id]
	if n.resolved || n.name == "" {
		return n.renamed
	}
	n.resolved = true
	n.renamed = n.name
	if n.kind == kindFwd || (n.kind == kindEnum && n.vlen == 0) {
		return n.renamed
	}
	if c := dups(m, n.name); c > 1 {
		n.renamed = n.name + "___" + strconv.Itoa(c)
	}
	return n.renamed
}

func (d *dumper) tagName(id int32) string { return d.resolveName(id, d.tagNames) }

func (d *dumper) identName(id int32) string { return d.resolveName(id, d.identNames) }

// missingAlias defines the ARM polynomial types GCC uses as builtins.
func (d *dumper) missingAlias(id int32) {
	var base string
	switch d.tagName(id) {
	case "__Poly8_t":
		base = "unsigned char"
	case "__Poly16_t":
		base = "unsigned short"
	case "__Poly64_t":
		base = "unsigned long long"
	case "__Poly128_t":
		base = "unsigned __int128"
	default:
		return
	}
	d.str("typedef ")
	d.str(base)
	d.byte(' ')
	d.str(d.nodes[id].name)
	d.str(";\n\n")
}

func (d *dumper) recordFwd(id int32) {
	if d.nodes[id].kind == kindUnion {
		d.str("union")
	} else {
		d.str("struct")
	}
	if d.nodes[id].name != "" {
		d.byte(' ')
		d.str(d.tagName(id))
	}
}

func (d *dumper) fwdDef(id int32) {
	if d.nodes[id].union {
		d.str("union ")
	} else {
		d.str("struct ")
	}
	d.str(d.tagName(id))
}

func (d *dumper) typedefDef(id int32, lvl int) {
	name := d.identName(id)
	if d.nodes[id].ref == 0 && name == "__gnuc_va_list" {
		// Old GCC describes this typedef as void.
		d.str("typedef __builtin_va_list __gnuc_va_list")
		return
	}
	d.str("typedef ")
	d.decl(d.nodes[id].ref, name, lvl)
}

func (d *dumper) enumDef(id int32, lvl int) {
	n := &d.nodes[id]
	d.str("enum")
	if n.name != "" {
		d.byte(' ')
		d.str(d.tagName(id))
	}
	if n.vlen == 0 {
		return
	}
	vals := d.enums[n.first : n.first+n.vlen]
	// cilium/ebpf does not tell ENUM64 from an 8-byte ENUM (and marshals
	// every 8-byte enum as ENUM64); neither does this package.
	is64 := n.size == 8
	d.str(" {")
	for _, v := range vals {
		d.byte('\n')
		d.indent(lvl + 1)
		d.str(v.name)
		// Enumerators share the ordinary identifier namespace with
		// typedefs.
		if c := dups(d.identNames, v.name); c > 1 {
			d.str("___")
			d.uint(uint64(c))
		}
		d.str(" = ")
		switch {
		case is64 && n.signed:
			d.int(int64(v.value))
			d.str("LL")
		case is64:
			d.uint(v.value)
			d.str("ULL")
		case n.signed:
			d.int(int64(int32(v.value)))
		default:
			d.uint(uint64(uint32(v.value)))
		}
		d.byte(',')
	}
	d.byte('\n')
	d.indent(lvl)
	d.byte('}')

	switch n.size {
	case 1:
		d.str(" __attribute__((mode(byte)))")
	case 8:
		// A 64-bit enum only gets that size naturally when one of its
		// values needs more than 32 bits.
		word := true
		for _, v := range vals {
			if v.value>>32 != 0 {
				word = false
				break
			}
		}
		if word {
			d.str(" __attribute__((mode(word)))")
		}
	}
}

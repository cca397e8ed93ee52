package vmlinux

import "fmt"

// decl writes a declaration of name with type id, such as "int *x[4]" or
// "void (*fn)(int)".
//
// C declarators read inside out, so the chain of BTF types from id down to
// its base type (int, struct, typedef...) is pushed on d.stack and then
// written from the base type back up.
func (d *dumper) decl(id int32, name string, lvl int) {
	start := len(d.stack)
	for steps := 0; ; steps++ {
		if steps > maxDepth {
			d.fail(fmt.Errorf("%s: %w", d.describe(id), errTooDeep))
			d.stack = d.stack[:start]
			return
		}
		d.stack = append(d.stack, id)
		n := &d.nodes[id]
		if id == 0 {
			break
		}
		switch n.kind {
		case kindPtr, kindVolatile, kindConst, kindRestrict, kindTypeTag, kindFuncProto, kindArray:
			id = n.ref
			continue
		case kindSkip:
			d.fail(fmt.Errorf("variable, function or section %q used as a type", n.name))
		}
		break
	}
	d.chain(start, len(d.stack), name, lvl)
	d.stack = d.stack[:start]
}

// chain writes the declarator held in d.stack[start:end], whose last entry
// is the base type.
func (d *dumper) chain(start, end int, name string, lvl int) {
	lastPtr := true // no space before a first '*' of an inner declarator
	for end > start {
		end--
		id := d.stack[end]
		n := &d.nodes[id]
		switch n.kind {
		case kindVoid:
			end = d.quals(start, end)
			d.str("void")
		case kindInt, kindFloat:
			end = d.quals(start, end)
			d.str(n.name)
		case kindStruct, kindUnion:
			end = d.quals(start, end)
			if n.name == "" {
				d.recordDef(id, lvl)
			} else {
				d.recordFwd(id)
			}
		case kindEnum:
			end = d.quals(start, end)
			if n.name == "" {
				d.enumDef(id, lvl)
			} else {
				d.str("enum ")
				d.str(d.tagName(id))
			}
		case kindFwd:
			end = d.quals(start, end)
			d.fwdDef(id)
		case kindTypedef:
			end = d.quals(start, end)
			d.str(d.identName(id))
		case kindPtr:
			if lastPtr {
				d.byte('*')
			} else {
				d.str(" *")
			}
		case kindVolatile:
			d.str(" volatile")
		case kindConst:
			d.str(" const")
		case kindRestrict:
			d.str(" restrict")
		case kindTypeTag:
			end = d.quals(start, end)
			d.str(` __attribute__((btf_type_tag("`)
			d.str(n.name)
			d.str(`")))`)
		case kindArray:
			// Qualifiers of an array are meaningless (GCC repeats those of
			// the element type); drop them.
			end = d.dropQuals(start, end)
			if end == start {
				d.name(name, lastPtr)
			} else {
				multi := d.nodes[d.stack[end-1]].kind == kindArray
				if name != "" && !lastPtr {
					d.byte(' ')
				}
				if !multi {
					d.byte('(')
				}
				d.chain(start, end, name, lvl)
				if !multi {
					d.byte(')')
				}
			}
			d.byte('[')
			d.uint(uint64(n.nelems))
			d.byte(']')
			return
		case kindFuncProto:
			// GCC marks noreturn function pointers volatile; drop it.
			end = d.dropQuals(start, end)
			if end > start {
				d.str(" (")
				d.chain(start, end, name, lvl)
				d.byte(')')
			} else {
				d.name(name, lastPtr)
			}
			d.params(id, lvl)
			return
		default:
			d.fail(fmt.Errorf("%s cannot be written as a C type", d.describe(id)))
			return
		}
		lastPtr = n.kind == kindPtr
	}
	d.name(name, lastPtr)
}

func (d *dumper) params(id int32, lvl int) {
	n := &d.nodes[id]
	first, vlen := n.first, n.vlen
	d.byte('(')
	if vlen == 0 || (vlen == 1 && d.fields[first].typ == 0) {
		d.str("void)")
		return
	}
	for i := first; i < first+vlen; i++ {
		if i > first {
			d.str(", ")
		}
		p := d.fields[i]
		if i == first+vlen-1 && p.typ == 0 {
			// A trailing void parameter stands for "...".
			d.str("...")
			break
		}
		d.decl(p.typ, p.name, lvl)
	}
	d.byte(')')
}

func (d *dumper) name(name string, lastPtr bool) {
	if name != "" && !lastPtr {
		d.byte(' ')
	}
	d.str(name)
}

// quals writes the qualifiers that directly apply to the base type just
// popped, "const int" style, and returns the new end of the chain.
func (d *dumper) quals(start, end int) int {
	for end > start {
		switch d.nodes[d.stack[end-1]].kind {
		case kindVolatile:
			d.str("volatile ")
		case kindConst:
			d.str("const ")
		case kindRestrict:
			d.str("restrict ")
		default:
			return end
		}
		end--
	}
	return end
}

func (d *dumper) dropQuals(start, end int) int {
	for end > start {
		switch d.nodes[d.stack[end-1]].kind {
		case kindVolatile, kindConst, kindRestrict, kindTypeTag:
			end--
		default:
			return end
		}
	}
	return end
}

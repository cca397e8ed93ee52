package ctype

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// maxSteps bounds the types TypeName visits: past it (a cyclic or absurdly
// large type, which only a hostile object's BTF has) the rest is spelled
// "?", so spelling a type never exhausts the stack or the CPU.
const maxSteps = 1000

// TypeName spells a BTF type as C does in an abstract declarator, the way
// eunomia's metadata writes types: "int", "pid_t", "char[16]", "int[2][3]",
// "struct event *", "const char *", "void (*)(int)". Typedef names are kept.
func TypeName(t btf.Type) string {
	var b strings.Builder
	steps := maxSteps
	writeDecl(&b, t, "", &steps)
	return b.String()
}

// VarTypeName spells the type of a global as eunomia's metadata does: the
// qualifiers of the variable itself dropped, including those C puts on the
// elements of an array (const volatile char x[16] is "char[16]").
func VarTypeName(t btf.Type) string {
	return TypeName(stripVarQualifiers(t, 0))
}

func stripVarQualifiers(t btf.Type, depth int) btf.Type {
	t = btf.QualifiedType(t)
	if a, ok := t.(*btf.Array); ok && depth < maxSteps {
		c := *a
		c.Type = stripVarQualifiers(a.Type, depth+1)
		return &c
	}
	return t
}

// writeDecl writes the declaration of an entity of type t named by inner
// (which already holds the declarator built so far, e.g. "*" or "[4]").
func writeDecl(b *strings.Builder, t btf.Type, inner string, steps *int) {
	if *steps <= 0 {
		b.WriteString("?")
		writeInner(b, inner)
		return
	}
	*steps--
	switch v := t.(type) {
	case nil, *btf.Void:
		b.WriteString("void")
		writeInner(b, inner)
	case *btf.Int, *btf.Float, *btf.Typedef:
		b.WriteString(t.TypeName())
		writeInner(b, inner)
	case *btf.Struct:
		b.WriteString(tagged("struct", v.Name))
		writeInner(b, inner)
	case *btf.Union:
		b.WriteString(tagged("union", v.Name))
		writeInner(b, inner)
	case *btf.Enum:
		b.WriteString(tagged("enum", v.Name))
		writeInner(b, inner)
	case *btf.Fwd:
		kind := "struct"
		switch v.Kind {
		case btf.FwdUnion:
			kind = "union"
		}
		b.WriteString(tagged(kind, v.Name))
		writeInner(b, inner)
	case *btf.Const:
		writeQualified(b, "const", v.Type, inner, steps)
	case *btf.Volatile:
		writeQualified(b, "volatile", v.Type, inner, steps)
	case *btf.Restrict:
		writeQualified(b, "restrict", v.Type, inner, steps)
	case *btf.TypeTag:
		writeDecl(b, v.Type, inner, steps)
	case *btf.Pointer:
		target := v.Target
		p := "*" + inner
		switch btf.QualifiedType(target).(type) {
		case *btf.Array, *btf.FuncProto:
			p = "(" + p + ")"
		}
		writeDecl(b, target, p, steps)
	case *btf.Array:
		writeDecl(b, v.Type, inner+"["+strconv.FormatUint(uint64(v.Nelems), 10)+"]", steps)
	case *btf.FuncProto:
		var params strings.Builder
		params.WriteString("(")
		for i, p := range v.Params {
			if i > 0 {
				params.WriteString(", ")
			}
			if _, ok := p.Type.(*btf.Void); ok || p.Type == nil {
				params.WriteString("...")
				continue
			}
			writeDecl(&params, p.Type, "", steps)
		}
		if len(v.Params) == 0 {
			params.WriteString("void")
		}
		params.WriteString(")")
		writeDecl(b, v.Return, inner+params.String(), steps)
	case *btf.Func:
		writeDecl(b, v.Type, v.Name, steps)
	case *btf.Var:
		writeDecl(b, v.Type, inner, steps)
	default:
		b.WriteString(t.TypeName())
		writeInner(b, inner)
	}
}

func writeQualified(b *strings.Builder, q string, t btf.Type, inner string, steps *int) {
	// Qualifiers of a pointer go after the star: "char *const".
	if _, ok := t.(*btf.Pointer); ok {
		if inner == "" {
			writeDecl(b, t, " "+q, steps)
		} else {
			writeDecl(b, t, " "+q+" "+inner, steps)
		}
		return
	}
	b.WriteString(q)
	b.WriteString(" ")
	writeDecl(b, t, inner, steps)
}

func writeInner(b *strings.Builder, inner string) {
	if inner == "" {
		return
	}
	if inner[0] == '*' || inner[0] == '(' {
		b.WriteString(" ")
	}
	b.WriteString(inner)
}

func tagged(kind, name string) string {
	if name == "" {
		return kind
	}
	return kind + " " + name
}

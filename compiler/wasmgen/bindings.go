package wasmgen

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	cty "github.com/ecc-bpf/ecc/internal/ctype"
	"github.com/ecc-bpf/ecc/packager"
)

// Bindings is what a guest is given of its BPF program.
type Bindings struct {
	// Name is NAME of NAME.bpf.c.
	Name string
	// Source names the BPF source in the generated files' comments.
	Source string
	// Object is the BPF ELF object the bindings embed.
	Object []byte
	// Programs are the object's programs, in metadata order.
	Programs []string
	// Types are the structs (and unions) that get bindings, in order:
	// the package's export types, then named struct keys and values of
	// its maps. Structs they use are declared too, before them.
	Types []btf.Type
}

// New collects the bindings of a BPF object: the export types of its
// metadata, found in its BTF, and the struct types of its maps' keys and
// values.
func New(name, source string, object []byte, m *packager.Meta) (*Bindings, error) {
	spec, err := bpfobj.LoadSpec(object)
	if err != nil {
		return nil, fmt.Errorf("read BPF object: %w", err)
	}
	if spec.Types == nil {
		return nil, errors.New("the BPF object has no BTF; build it with -g (ecc build does)")
	}
	b := &Bindings{Name: name, Source: source, Object: object}
	for _, p := range m.BpfSkel.Progs {
		b.Programs = append(b.Programs, p.Name)
	}
	seen := map[btf.Type]bool{}
	add := func(t btf.Type) {
		if !seen[t] {
			seen[t] = true
			b.Types = append(b.Types, t)
		}
	}
	for _, et := range m.ExportTypes {
		t, err := exportType(spec.Types, et)
		if err != nil {
			return nil, err
		}
		add(t)
	}
	for _, mp := range m.BpfSkel.Maps {
		ms := spec.Maps[mp.Name]
		if ms == nil {
			continue
		}
		for _, t := range []btf.Type{ms.Key, ms.Value} {
			if t == nil {
				continue
			}
			switch u := btf.UnderlyingType(t).(type) {
			case *btf.Struct:
				if u.Name != "" {
					add(u)
				}
			case *btf.Union:
				if u.Name != "" {
					add(u)
				}
			}
		}
	}
	return b, nil
}

func exportType(types *btf.Spec, et packager.ExportType) (btf.Type, error) {
	if et.TypeID != 0 {
		if t, err := types.TypeByID(btf.TypeID(et.TypeID)); err == nil {
			if u, ok := btf.UnderlyingType(t).(*btf.Struct); ok && u.Name == et.Name {
				return u, nil
			}
		}
	}
	var st *btf.Struct
	if err := types.TypeByName(et.Name, &st); err != nil {
		return nil, fmt.Errorf("export type %s is not a struct of the BPF object's BTF: %w", et.Name, err)
	}
	return st, nil
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

// CIdent turns a name into a C identifier.
func CIdent(s string) string {
	s = nonIdent.ReplaceAllString(s, "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "_" + s
	}
	return s
}

// GoName turns a C name into an exported Go identifier: event → Event,
// args_len → ArgsLen, __u64 → U64.
func GoName(s string) string {
	var out strings.Builder
	up := true
	for _, r := range s {
		switch {
		case r == '_' || !(r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')):
			up = true
		case up:
			out.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			out.WriteRune(r)
		}
	}
	n := out.String()
	if n == "" || (n[0] >= '0' && n[0] <= '9') {
		n = "X" + n
	}
	return n
}

func alignUp(n, a uint32) uint32 {
	if a <= 1 {
		return n
	}
	return (n + a - 1) / a * a
}

// members returns the members of a struct or union.
func members(t btf.Type) ([]btf.Member, uint32, bool) {
	switch s := t.(type) {
	case *btf.Struct:
		return s.Members, s.Size, false
	case *btf.Union:
		return s.Members, s.Size, true
	}
	return nil, 0, false
}

// typeName names a type in messages and comments: "struct event",
// "anonymous union", "u32".
func typeName(t btf.Type) string {
	n := cty.TypeName(t)
	if n == "struct" || n == "union" {
		return "anonymous " + n
	}
	return n
}

// bitfieldRuns groups consecutive bitfield members: [i, j) ranges.
func isBitfield(m btf.Member) bool { return m.BitfieldSize > 0 }

// check is one compile-time layout check.
type check struct {
	// path is the member designator: "a.b" (C, from the outer struct)
	// or "A.B" (Go, a selector whose last offset is relative to its parent).
	path string
	off  uint32
	size uint32 // the member's size
}

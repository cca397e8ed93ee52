package progscan

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Binding says which struct the records of a buffer map are.
type Binding struct {
	// Struct is the chosen struct, nil when there were no candidates.
	Struct *btf.Struct
	// Reason says why, for `ecc build -v` and `ecc inspect`: "programs
	// submit 32 bytes, sizeof(struct event)" or "the outermost struct".
	Reason string
	// Ambiguous lists the other candidates that fitted as well as Struct:
	// the choice is a guess and deserves a warning.
	Ambiguous []string
}

// Bind chooses the struct a ring buffer or perf event array carries, among
// candidates (the export header's structs, in order): the one whose size
// the programs submit (bpf_ringbuf_reserve, bpf_ringbuf_output,
// bpf_perf_event_output with a constant size); else the outermost struct,
// one that no other candidate contains: among several, the largest for
// records of variable length, else the first.
func Bind(u *MapUse, candidates []*btf.Struct) Binding {
	if len(candidates) == 0 {
		return Binding{}
	}
	var sized []*btf.Struct
	var sizes []string
	if u != nil {
		for _, n := range u.SubmitSizes {
			sizes = append(sizes, fmt.Sprint(n))
			for _, st := range candidates {
				if uint64(st.Size) == n && !containsStruct(sized, st) {
					sized = append(sized, st)
				}
			}
		}
	}
	if len(sized) > 0 {
		pick := outermost(sized)
		b := Binding{Struct: pick[0], Reason: fmt.Sprintf("programs submit %s bytes, sizeof(struct %s)", strings.Join(sizes, " and "), pick[0].Name)}
		for _, st := range sized {
			if st != pick[0] {
				b.Ambiguous = append(b.Ambiguous, st.Name)
			}
		}
		return b
	}
	outer := outermost(candidates)
	pick := outer[0]
	switch {
	case len(candidates) == 1:
		return Binding{Struct: pick, Reason: "the only export struct"}
	case u != nil && u.UnknownSize:
		// Variable-length records (offsetof(args) + len) are cut from the
		// largest struct.
		for _, st := range outer {
			if st.Size > pick.Size {
				pick = st
			}
		}
	}
	b := Binding{Struct: pick, Reason: "the outermost struct"}
	if u != nil && u.UnknownSize {
		b.Reason = "records of variable size: the largest outermost struct"
	}
	for _, st := range outer {
		if st != pick {
			b.Ambiguous = append(b.Ambiguous, st.Name)
		}
	}
	return b
}

// outermost keeps the structs that no other one of the list contains (as
// a member, through arrays, typedefs, unions and nested structs), in
// order; all of them when they contain each other.
func outermost(list []*btf.Struct) []*btf.Struct {
	var out []*btf.Struct
	for _, st := range list {
		inner := false
		for _, other := range list {
			if other != st && contains(other, st, 0) {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		return list
	}
	return out
}

func contains(t btf.Type, target *btf.Struct, depth int) bool {
	if depth > 16 {
		return false
	}
	switch v := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		if depth > 0 && (v == target || (v.Name != "" && v.Name == target.Name)) {
			return true
		}
		for _, m := range v.Members {
			if contains(m.Type, target, depth+1) {
				return true
			}
		}
	case *btf.Union:
		for _, m := range v.Members {
			if contains(m.Type, target, depth+1) {
				return true
			}
		}
	case *btf.Array:
		return contains(v.Type, target, depth+1)
	}
	return false
}

func containsStruct(list []*btf.Struct, st *btf.Struct) bool {
	for _, x := range list {
		if x == st {
			return true
		}
	}
	return false
}

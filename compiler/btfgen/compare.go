package btfgen

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
)

// MismatchError is a relocation that comes out differently against the
// minimised BTF than against the kernel's whole BTF.
type MismatchError struct {
	Program string
	// Instruction is the index of the relocated instruction.
	Instruction int
	// Relocation describes the relocation (kind, type, access path).
	Relocation string
	// Full and Minimized are the instruction relocated against each, or
	// the error relocating gave.
	Full, Minimized string
}

func (e *MismatchError) Error() string {
	msg := fmt.Sprintf("program %s, instruction %d: %s relocates to %s against the kernel's BTF but to %s against the minimised one",
		e.Program, e.Instruction, e.Relocation, e.Full, e.Minimized)
	if strings.Contains(e.Relocation, "target_type_id") {
		msg += " (bpf_core_type_id_kernel needs the kernel's own type IDs, which a minimised BTF cannot keep)"
	}
	return msg
}

// Compare relocates every program of object against full and against min,
// as cilium/ebpf does at load (btf.CORERelocate), and returns a
// *MismatchError for the first instruction that differs.
func Compare(object []byte, full, min *btf.Spec) error {
	spec, err := bpfobj.LoadSpec(object)
	if err != nil {
		return err
	}
	localID := func(t btf.Type) (btf.TypeID, error) { return spec.Types.TypeID(t) }
	for _, name := range sortedKeys(spec.Programs) {
		ins := spec.Programs[name].Instructions
		var at []int
		var relos []*btf.CORERelocation
		for i := range ins {
			if r := btf.CORERelocationMetadata(&ins[i]); r != nil {
				at = append(at, i)
				relos = append(relos, r)
			}
		}
		if len(relos) == 0 {
			continue
		}
		want, err := btf.CORERelocate(relos, []*btf.Spec{full}, spec.ByteOrder, localID)
		if err != nil {
			return fmt.Errorf("program %s: CO-RE relocation against the kernel's BTF: %w", name, err)
		}
		got, gerr := btf.CORERelocate(relos, []*btf.Spec{min}, spec.ByteOrder, localID)
		for i, idx := range at {
			a, aerr := applied(ins[idx], &want[i])
			if aerr != nil {
				return fmt.Errorf("program %s, instruction %d: %w", name, idx, aerr)
			}
			b, berr := "", gerr
			if gerr == nil {
				b, berr = applied(ins[idx], &got[i])
			}
			if berr != nil {
				b = berr.Error()
			}
			if a != b {
				return &MismatchError{Program: name, Instruction: idx, Relocation: relos[i].String(), Full: a, Minimized: b}
			}
		}
	}
	return nil
}

// applied is the instruction after the fixup, as text of its fields.
func applied(in asm.Instruction, f *btf.COREFixup) (string, error) {
	if err := f.Apply(&in); err != nil {
		return "", err
	}
	return fmt.Sprintf("{op %v dst %v src %v off %d imm %d}", in.OpCode, in.Dst, in.Src, in.Offset, in.Constant), nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

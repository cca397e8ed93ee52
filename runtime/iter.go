package runtime

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/packager"
)

// seqWrites scans an iterator program's instructions (subprograms
// included) for the helpers that write its output. binary is true when it
// writes with bpf_seq_write and never prints with bpf_seq_printf or
// bpf_seq_printf_btf: its output is then records, not text. sizes are
// the constant sizes its bpf_seq_write calls pass in R3, when the
// instructions before a call set R3 to an immediate.
func seqWrites(insns asm.Instructions) (binary bool, sizes []int64) {
	writes, prints := false, false
	for i, ins := range insns {
		if !ins.IsBuiltinCall() {
			continue
		}
		switch asm.BuiltinFunc(ins.Constant) {
		case asm.FnSeqPrintf, asm.FnSeqPrintfBtf:
			prints = true
		case asm.FnSeqWrite:
			writes = true
			if n, ok := immBefore(insns, i, asm.R3); ok {
				sizes = append(sizes, n)
			}
		}
	}
	return writes && !prints, sizes
}

// immBefore finds the immediate that the instructions before insns[i]
// move into reg: the last write to reg within the same straight run of
// instructions, if it is a move of an immediate.
func immBefore(insns asm.Instructions, i int, reg asm.Register) (int64, bool) {
	for j := i - 1; j >= 0 && j >= i-64; j-- {
		ins := insns[j]
		class := ins.OpCode.Class()
		switch {
		case class.IsJump():
			// A call clobbers R1-R5; a jump may come from elsewhere.
			return 0, false
		case ins.Dst != reg:
			continue
		case class.IsALU():
			if ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource {
				return ins.Constant, true
			}
			return 0, false
		case class.IsLoad():
			if ins.OpCode.IsDWordLoad() && !ins.IsLoadFromMap() && ins.Reference() == "" {
				return ins.Constant, true
			}
			return 0, false
		}
		// Stores name reg as their base address: not a write to reg.
	}
	return 0, false
}

// iterRecordType returns the export type an iterator program writes
// records of, and nil when its output is text or its records match no
// export type: the export type whose size is the constant size the
// program passes to bpf_seq_write, else the package's only export type
// when the size is not a constant.
func iterRecordType(m *packager.Meta, spec *ebpf.CollectionSpec, prog string) (btf.Type, error) {
	ps := spec.Programs[prog]
	if ps == nil || len(m.ExportTypes) == 0 {
		return nil, nil
	}
	binary, sizes := seqWrites(ps.Instructions)
	if !binary {
		return nil, nil
	}
	name := ""
	for _, size := range sizes {
		for _, et := range m.ExportTypes {
			if int64(et.Size) == size {
				name = et.Name
				break
			}
		}
		if name != "" {
			break
		}
	}
	if name == "" {
		if len(sizes) > 0 || len(m.ExportTypes) != 1 {
			return nil, nil
		}
		name = m.ExportTypes[0].Name
	}
	var st *btf.Struct
	if err := spec.Types.TypeByName(name, &st); err != nil {
		return nil, err
	}
	return st, nil
}

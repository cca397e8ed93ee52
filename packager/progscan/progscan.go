package progscan

import (
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Result is what the programs of one collection do.
type Result struct {
	// Maps by name: every map a program references, data sections
	// (.bss, .data, .rodata...) included.
	Maps map[string]*MapUse
	// Printk lists the programs that call bpf_trace_printk or
	// bpf_trace_vprintk (bpf_printk).
	Printk []string
	// SeqWrite lists the programs that call bpf_seq_write, with the
	// constant sizes they write (iterators that write records).
	SeqWrite map[string][]uint64
}

// MapUse says how programs use one map.
type MapUse struct {
	Name string
	// Programs that reference the map.
	Programs []string
	// Helper calls with the map as their map argument.
	Lookup, Update, Delete bool
	// WriteValue: programs store into its values (through a pointer from
	// bpf_map_lookup_elem, or into a global of a data section), or hand
	// such a pointer to a helper that fills it.
	WriteValue bool
	// ReadValue: programs load from its values.
	ReadValue bool
	// Sent: a value pointer of this map is passed as the data of
	// bpf_perf_event_output, bpf_ringbuf_output or bpf_seq_write, or is
	// copied from into another buffer (bpf_probe_read_kernel's source,
	// bpf_map_update_elem's value): it is scratch space.
	Sent bool
	// SubmitSizes are the constant sizes programs reserve in or output to
	// this map when it is a ring buffer or perf event array (sorted,
	// distinct). Outputs of a size the scan cannot tell add nothing;
	// UnknownSize says there was one.
	SubmitSizes []uint64
	UnknownSize bool
	// Written lists, for a data section, the byte ranges programs store
	// into: each is the extent of the global the stored pointer was
	// derived from, as far as the scan knows it (an offset and, when the
	// pointer was moved by an unknown amount, no end).
	Written []Range
	// StackIDs: the map is a stack trace map that bpf_get_stackid fills.
	StackIDs bool
	// Writers and Readers are the programs that write (update, store into
	// values) and read (load from values) the map.
	Writers, Readers []string
}

// Range is a store target in a data section: the offset of the global the
// pointer started at. Variable says the pointer was then moved by an
// amount the scan could not tell (an index into an array global).
type Range struct {
	Offset   uint32
	Variable bool
}

// Role classifies a map from its use, the rule runtimes use to decide
// what to show without being told (see [MapUse.Role]).
type Role int

const (
	// RoleOther: buffers, program arrays, stack traces, maps no program
	// touches.
	RoleOther Role = iota
	// RoleResult: programs write it and never delete from it.
	RoleResult
	// RoleState: programs delete from it (start timestamps by thread id,
	// in-flight requests).
	RoleState
	// RoleScratch: its values are copied out as events (per-CPU heaps).
	RoleScratch
	// RoleConfig: programs only read it; user space fills it.
	RoleConfig
)

var roleNames = [...]string{"other", "result", "state", "scratch", "config"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "unknown"
}

// Role applies the rule: deleted from → state; written by some programs
// and read only by others (a timestamp handed from an entry probe to an
// exit probe) → state; values sent out → scratch; written → result; only
// read → config.
func (u *MapUse) Role() Role {
	switch {
	case u == nil:
		return RoleOther
	case u.Delete:
		return RoleState
	case len(u.Readers) > 0 && len(u.Writers) > 0 && !u.Sent && disjoint(u.Readers, u.Writers):
		return RoleState
	case u.Sent:
		return RoleScratch
	case u.Update || u.WriteValue:
		return RoleResult
	case u.Lookup || u.ReadValue:
		return RoleConfig
	}
	return RoleOther
}

// Scan analyses every program of spec. It does not modify spec.
func Scan(spec *ebpf.CollectionSpec) *Result {
	res := &Result{Maps: map[string]*MapUse{}, SeqWrite: map[string][]uint64{}}
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p := spec.Programs[name]
		s := &scanner{res: res, prog: name, insns: p.Instructions}
		s.run()
	}
	for _, u := range res.Maps {
		u.SubmitSizes = uniq(u.SubmitSizes)
		sort.Slice(u.Written, func(i, j int) bool { return u.Written[i].Offset < u.Written[j].Offset })
		u.Programs = uniqStrings(u.Programs)
		u.Writers = uniqStrings(u.Writers)
		u.Readers = uniqStrings(u.Readers)
	}
	for k, v := range res.SeqWrite {
		res.SeqWrite[k] = uniq(v)
	}
	return res
}

// WrittenAt reports whether programs store into the global that occupies
// [off, off+size) of data section u.
func (u *MapUse) WrittenAt(off, size uint32) bool {
	if u == nil {
		return false
	}
	for _, r := range u.Written {
		if r.Offset >= off && r.Offset < off+size {
			return true
		}
	}
	return false
}

// --- abstract values ---

type kind uint8

const (
	vUnknown kind = iota
	vConst        // c
	vMap          // pointer to map m (ld_imm64 map fd)
	vData         // pointer into data section m, base offset off (+ delta)
	vValue        // pointer into a value of map m
	vStack        // r10 + off
	vRing         // pointer from bpf_ringbuf_reserve
)

type value struct {
	kind kind
	m    string
	c    int64  // vConst: the constant; vStack: the offset
	off  uint32 // vData: the offset the pointer was loaded at
	// vData: the pointer moved by an unknown amount.
	moved bool
}

func (a value) equal(b value) bool { return a == b }

// meet joins two states at a control-flow merge: known pointers survive
// when only one side knows them (the scan looks for what may happen),
// differing constants do not.
func meet(a, b value) value {
	switch {
	case a == b:
		return a
	case a.kind == vUnknown:
		if b.kind == vConst {
			return value{}
		}
		return b
	case b.kind == vUnknown:
		if a.kind == vConst {
			return value{}
		}
		return a
	case a.kind == b.kind && a.m == b.m && (a.kind == vValue || a.kind == vMap || a.kind == vRing):
		return a
	case a.kind == vRing && (b.kind == vValue || b.kind == vData):
		// A record from bpf_ringbuf_reserve or, on kernels without ring
		// buffers, from a per-CPU heap (libbpf-tools' reserve_buf): what
		// is learnt is about the heap.
		return b
	case b.kind == vRing && (a.kind == vValue || a.kind == vData):
		return a
	case a.kind == vData && b.kind == vData && a.m == b.m:
		if a.off == b.off {
			return value{kind: vData, m: a.m, off: a.off, moved: true}
		}
	}
	return value{}
}

type state struct {
	regs  [11]value
	stack map[int64]value
	live  bool
}

func (s *state) clone() state {
	c := state{regs: s.regs, live: s.live}
	if len(s.stack) > 0 {
		c.stack = make(map[int64]value, len(s.stack))
		for k, v := range s.stack {
			c.stack[k] = v
		}
	}
	return c
}

func meetStates(a, b state) state {
	if !a.live {
		return b.clone()
	}
	if !b.live {
		return a.clone()
	}
	out := state{live: true}
	for i := range out.regs {
		out.regs[i] = meet(a.regs[i], b.regs[i])
	}
	for k, v := range a.stack {
		if w, ok := b.stack[k]; ok {
			if m := meet(v, w); m.kind != vUnknown {
				if out.stack == nil {
					out.stack = map[int64]value{}
				}
				out.stack[k] = m
			}
		} else if v.kind != vConst {
			if out.stack == nil {
				out.stack = map[int64]value{}
			}
			out.stack[k] = v
		}
	}
	for k, w := range b.stack {
		if _, ok := a.stack[k]; !ok && w.kind != vConst {
			if out.stack == nil {
				out.stack = map[int64]value{}
			}
			out.stack[k] = w
		}
	}
	return out
}

type scanner struct {
	res   *Result
	prog  string
	insns asm.Instructions
}

func (s *scanner) use(m string) *MapUse {
	u := s.res.Maps[m]
	if u == nil {
		u = &MapUse{Name: m}
		s.res.Maps[m] = u
	}
	u.Programs = append(u.Programs, s.prog)
	return u
}

// maxStates bounds the pending states kept at jump targets, so that huge
// programs cost linear memory.
const maxPending = 1 << 16

func (s *scanner) run() {
	insns := s.insns
	if len(insns) == 0 {
		return
	}
	// Raw offsets of instructions (ld_imm64 takes two slots), and function
	// starts by symbol, for jumps and bpf-to-bpf calls.
	offsets := make([]int, len(insns))
	byOffset := make(map[int]int, len(insns))
	funcs := map[string]int{}
	off := 0
	for i := range insns {
		offsets[i] = off
		byOffset[off] = i
		off += int(insns[i].Width()) // raw instructions: 2 for ld_imm64
		if sym := insns[i].Symbol(); sym != "" {
			funcs[sym] = i
		}
	}
	pending := map[int]state{}
	cur := state{live: true}
	for i := 0; i < len(insns); i++ {
		if p, ok := pending[i]; ok {
			cur = meetStates(cur, p)
			delete(pending, i)
		}
		if !cur.live {
			// Unreachable from what came before (a function body after
			// exit): start from nothing known.
			cur = state{live: true}
		}
		ins := &insns[i]
		target := -1
		if op := ins.OpCode; op.Class().IsJump() {
			switch op.JumpOp() {
			case asm.Exit:
				s.step(ins, &cur, funcs, pending)
				cur = state{}
				continue
			case asm.Call:
			default:
				rel := int(ins.Offset)
				if op.Class() == asm.Jump32Class && op.JumpOp() == asm.Ja {
					rel = int(ins.Constant)
				}
				if t, ok := byOffset[offsets[i]+1+rel]; ok {
					target = t
				}
			}
		}
		s.step(ins, &cur, funcs, pending)
		if target > i && len(pending) < maxPending {
			if p, ok := pending[target]; ok {
				pending[target] = meetStates(p, cur)
			} else {
				pending[target] = cur.clone()
			}
		}
		if ins.OpCode.Class().IsJump() && ins.OpCode.JumpOp() == asm.Ja {
			cur = state{}
		}
	}
}

// step interprets one instruction.
func (s *scanner) step(ins *asm.Instruction, st *state, funcs map[string]int, pending map[int]state) {
	op := ins.OpCode
	r := &st.regs
	reg := func(x asm.Register) *value {
		if int(x) < len(r) {
			return &r[x]
		}
		return &value{}
	}
	switch cls := op.Class(); {
	case op.IsDWordLoad():
		v := value{}
		switch {
		case ins.IsLoadFromMap() && ins.Src == asm.PseudoMapValue && ins.Reference() != "":
			v = value{kind: vData, m: ins.Reference(), off: uint32(uint64(ins.Constant) >> 32)}
			s.use(v.m)
		case ins.IsLoadFromMap() && ins.Reference() != "":
			v = value{kind: vMap, m: ins.Reference()}
			s.use(v.m)
		case ins.Src == 0:
			v = value{kind: vConst, c: ins.Constant}
		}
		*reg(ins.Dst) = v

	case cls.IsALU():
		dst := reg(ins.Dst)
		aop := op.ALUOp()
		srcv := value{kind: vConst, c: ins.Constant}
		if op.Source() == asm.RegSource {
			srcv = *reg(ins.Src)
		}
		switch aop {
		case asm.Mov:
			if cls == asm.ALUClass && srcv.kind != vConst {
				srcv = value{} // 32-bit move of a pointer
			}
			if cls == asm.ALUClass && srcv.kind == vConst {
				srcv.c = int64(uint32(srcv.c))
			}
			*dst = srcv
		case asm.Add, asm.Sub:
			sign := int64(1)
			if aop == asm.Sub {
				sign = -1
			}
			switch {
			case dst.kind == vConst && srcv.kind == vConst:
				dst.c += sign * srcv.c
				if cls == asm.ALUClass {
					dst.c = int64(uint32(dst.c))
				}
			case dst.kind == vStack && srcv.kind == vConst:
				dst.c += sign * srcv.c
			case dst.kind == vData:
				// Moved within (or from) the global it was loaded at.
				if srcv.kind != vConst || srcv.c != 0 {
					dst.moved = dst.moved || srcv.kind != vConst
					if srcv.kind == vConst {
						// A constant step stays in the same global as far
						// as stores are attributed: keep the base offset.
						dst.moved = true
					}
				}
			case dst.kind == vValue || dst.kind == vRing:
				// Still inside the same value.
			case srcv.kind == vData || srcv.kind == vValue:
				*dst = srcv
				if dst.kind == vData {
					dst.moved = true
				}
			default:
				*dst = value{}
			}
		default:
			if dst.kind == vConst && srcv.kind == vConst {
				dst.c = alu(aop, dst.c, srcv.c)
				if cls == asm.ALUClass {
					dst.c = int64(uint32(dst.c))
				}
			} else {
				*dst = value{}
			}
		}

	case cls == asm.LdXClass:
		src := *reg(ins.Src)
		v := value{}
		switch src.kind {
		case vStack:
			if op.Size() == asm.DWord {
				v = st.stack[src.c+int64(ins.Offset)]
			}
		case vValue, vData:
			u := s.use(src.m)
			u.ReadValue = true
			u.Readers = append(u.Readers, s.prog)
		}
		*reg(ins.Dst) = v

	case cls == asm.StXClass || cls == asm.StClass:
		dst := *reg(ins.Dst)
		var v value
		if cls == asm.StXClass {
			v = *reg(ins.Src)
			if op.Mode() == asm.AtomicMode {
				// Fetching atomics write the old value to src.
				if ins.Constant&0x1 != 0 {
					*reg(ins.Src) = value{}
				}
			}
		} else {
			v = value{kind: vConst, c: ins.Constant}
		}
		switch dst.kind {
		case vStack:
			at := dst.c + int64(ins.Offset)
			if op.Size() == asm.DWord && op.Mode() != asm.AtomicMode {
				if st.stack == nil {
					st.stack = map[int64]value{}
				}
				st.stack[at] = v
			} else if st.stack != nil {
				// A narrower store clobbers the slot it lands in.
				delete(st.stack, at&^7)
				delete(st.stack, at)
			}
		case vValue, vData:
			s.filled(dst)
		}

	case cls.IsJump():
		if op.JumpOp() == asm.Call {
			s.call(ins, st, funcs, pending)
		}
	}
	// r10 is the frame pointer.
	r[asm.R10] = value{kind: vStack}
}

func alu(op asm.ALUOp, a, b int64) int64 {
	switch op {
	case asm.Mul:
		return a * b
	case asm.Div:
		if b != 0 {
			return int64(uint64(a) / uint64(b))
		}
	case asm.Or:
		return a | b
	case asm.And:
		return a & b
	case asm.LSh:
		return a << (uint64(b) & 63)
	case asm.RSh:
		return int64(uint64(a) >> (uint64(b) & 63))
	case asm.Neg:
		return -a
	case asm.Xor:
		return a ^ b
	case asm.ArSh:
		return a >> (uint64(b) & 63)
	}
	return 0
}

// call applies a helper's (or a subprogram's) effect.
func (s *scanner) call(ins *asm.Instruction, st *state, funcs map[string]int, pending map[int]state) {
	r := &st.regs
	defer func() {
		for i := asm.R1; i <= asm.R5; i++ {
			r[i] = value{}
		}
	}()
	if ins.IsFunctionCall() {
		// A bpf-to-bpf call: the callee starts with the arguments known.
		if at, ok := funcs[ins.Reference()]; ok && len(pending) < maxPending {
			callee := state{live: true}
			for i := asm.R1; i <= asm.R5; i++ {
				if v := r[i]; v.kind != vStack {
					callee.regs[i] = v
				}
			}
			if p, ok := pending[at]; ok {
				pending[at] = meetStates(p, callee)
			} else {
				pending[at] = callee
			}
		}
		// A pointer handed to a subprogram may be written there; the
		// callee's own stores are seen when its body is scanned.
		r[asm.R0] = value{}
		return
	}
	if !ins.IsBuiltinCall() {
		r[asm.R0] = value{} // kfuncs
		return
	}
	fn := asm.BuiltinFunc(ins.Constant)
	mapArg := func(x asm.Register) *MapUse {
		if v := r[x]; v.kind == vMap {
			return s.use(v.m)
		}
		return nil
	}
	size := func(x asm.Register) (uint64, bool) {
		if v := r[x]; v.kind == vConst && v.c > 0 {
			return uint64(v.c), true
		}
		return 0, false
	}
	submit := func(u *MapUse, sz asm.Register) {
		if u == nil {
			return
		}
		if n, ok := size(sz); ok {
			u.SubmitSizes = append(u.SubmitSizes, n)
		} else {
			u.UnknownSize = true
		}
	}
	sent := func(x asm.Register) {
		if v := r[x]; v.kind == vValue || v.kind == vData {
			s.use(v.m).Sent = true
		}
	}
	ret := value{}
	switch fn {
	case asm.FnMapLookupElem, asm.FnMapLookupPercpuElem:
		if u := mapArg(asm.R1); u != nil {
			u.Lookup = true
			ret = value{kind: vValue, m: u.Name}
		}
	case asm.FnMapUpdateElem:
		if u := mapArg(asm.R1); u != nil {
			u.Update = true
			u.Writers = append(u.Writers, s.prog)
		}
		// A value copied from another map's value: that one is a buffer.
		if v := r[asm.R3]; v.kind == vValue {
			s.use(v.m).Sent = true
		}
	case asm.FnMapDeleteElem:
		if u := mapArg(asm.R1); u != nil {
			u.Delete = true
		}
	case asm.FnMapPushElem, asm.FnMapPopElem, asm.FnMapPeekElem:
		if u := mapArg(asm.R1); u != nil {
			u.Update = true
		}
	case asm.FnPerfEventOutput, asm.FnSkbOutput, asm.FnXdpOutput:
		submit(mapArg(asm.R2), asm.R5)
		sent(asm.R4)
	case asm.FnRingbufOutput:
		submit(mapArg(asm.R1), asm.R3)
		sent(asm.R2)
	case asm.FnRingbufReserve:
		u := mapArg(asm.R1)
		submit(u, asm.R2)
		if u != nil {
			ret = value{kind: vRing, m: u.Name}
		}
	case asm.FnRingbufReserveDynptr:
		submit(mapArg(asm.R1), asm.R2)
	case asm.FnSeqWrite:
		if n, ok := size(asm.R3); ok {
			s.res.SeqWrite[s.prog] = append(s.res.SeqWrite[s.prog], n)
		} else if _, seen := s.res.SeqWrite[s.prog]; !seen {
			s.res.SeqWrite[s.prog] = nil
		}
		sent(asm.R2)
	case asm.FnTracePrintk, asm.FnTraceVprintk:
		s.res.Printk = appendOnce(s.res.Printk, s.prog)
	case asm.FnGetStackid:
		if u := mapArg(asm.R2); u != nil {
			u.StackIDs = true
		}
	default:
		// Helpers that fill a buffer they are pointed at.
		if dst, ok := filledArg[fn]; ok {
			s.filled(r[dst])
		}
		// A map value read by bpf_probe_read* into another buffer is a
		// scratch buffer (a per-CPU heap for a large string), not a result.
		if src, ok := copiedArg[fn]; ok {
			if v := r[src]; v.kind == vValue {
				s.use(v.m).Sent = true
			}
		}
	}
	r[asm.R0] = ret
}

func disjoint(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return false
			}
		}
	}
	return true
}

// filledArg maps the helpers that write into a buffer to the register
// holding it.
var filledArg = map[asm.BuiltinFunc]asm.Register{
	asm.FnProbeRead: asm.R1, asm.FnProbeReadStr: asm.R1,
	asm.FnProbeReadUser: asm.R1, asm.FnProbeReadKernel: asm.R1,
	asm.FnProbeReadUserStr: asm.R1, asm.FnProbeReadKernelStr: asm.R1,
	asm.FnGetCurrentComm: asm.R1, asm.FnGetStack: asm.R2, asm.FnGetTaskStack: asm.R2,
	asm.FnCopyFromUser: asm.R1, asm.FnCopyFromUserTask: asm.R1,
	asm.FnSnprintf: asm.R1, asm.FnSnprintfBtf: asm.R1, asm.FnDynptrRead: asm.R1,
	asm.FnDPath: asm.R2, asm.FnPerfProgReadValue: asm.R2, asm.FnReadBranchRecords: asm.R2,
	asm.FnPerfEventReadValue: asm.R3, asm.FnGetNsCurrentPidTgid: asm.R3,
	asm.FnSkbLoadBytes: asm.R3, asm.FnGetFuncArg: asm.R3, asm.FnGetFuncRet: asm.R2,
}

// copiedArg maps the helpers that copy from memory they are given to the
// register holding its address.
var copiedArg = map[asm.BuiltinFunc]asm.Register{
	asm.FnProbeRead: asm.R3, asm.FnProbeReadStr: asm.R3,
	asm.FnProbeReadKernel: asm.R3, asm.FnProbeReadKernelStr: asm.R3,
}

// filled records that a store or a helper wrote into the value or global
// v points at.
func (s *scanner) filled(v value) {
	switch v.kind {
	case vValue:
		u := s.use(v.m)
		u.WriteValue = true
		u.Writers = append(u.Writers, s.prog)
	case vData:
		u := s.use(v.m)
		u.WriteValue = true
		u.Writers = append(u.Writers, s.prog)
		u.Written = append(u.Written, Range{Offset: v.off, Variable: v.moved})
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func uniq(xs []uint64) []uint64 {
	if len(xs) == 0 {
		return xs
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	out := xs[:1]
	for _, x := range xs[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

func uniqStrings(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

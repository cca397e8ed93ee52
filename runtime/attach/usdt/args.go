package usdt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ArgType says where an argument's value is, as enum __bpf_usdt_arg_type
// of <bpf/usdt.bpf.h>.
type ArgType uint32

const (
	ArgConst    ArgType = iota // BPF_USDT_ARG_CONST: the value is ValOff
	ArgReg                     // BPF_USDT_ARG_REG: the value is in a register
	ArgRegDeref                // BPF_USDT_ARG_REG_DEREF: the value is in memory at register + ValOff
)

func (t ArgType) String() string {
	switch t {
	case ArgConst:
		return "const"
	case ArgReg:
		return "reg"
	case ArgRegDeref:
		return "reg_deref"
	}
	return "ArgType(" + strconv.Itoa(int(t)) + ")"
}

// MaxArgs is BPF_USDT_MAX_ARG_CNT: how many arguments a spec holds.
const MaxArgs = 12

// maxArgSpec bounds the argument string of one probe.
const maxArgSpec = 4096

// Arg is one argument of a probe, as struct __bpf_usdt_arg_spec.
type Arg struct {
	// ValOff is the constant (ArgConst) or the offset from the register
	// (ArgRegDeref), two's complement.
	ValOff uint64
	Type   ArgType
	// RegOff is offsetof(struct pt_regs, register) (ArgReg, ArgRegDeref).
	RegOff int16
	// Signed: the value is sign-extended from its size.
	Signed bool
	// BitShift is 64 - 8*size: the bits cleared (or sign-extended) to
	// widen a 1, 2 or 4 byte argument to 64 bits.
	BitShift int8
	// Text is the argument as written in the note, e.g. "-4@%eax".
	Text string
}

// Size returns the argument's size in bytes (1, 2, 4 or 8).
func (a *Arg) Size() int { return (64 - int(a.BitShift)) / 8 }

// ParseArgs parses the argument string of a probe note (e.g.
// "-4@%eax 8@-8(%rbp)" on x86_64, "-4@x0 8@[sp, 8]" on arm64) for
// goarch ("amd64" or "arm64"). pc is the probe's address and sym resolves
// symbols of the binary (nil: none), both for x86_64's %rip-relative
// arguments ("8@counter(%rip)"), which are read relative to the
// instruction pointer at the probe.
func ParseArgs(goarch, spec string, pc uint64, sym func(string) (uint64, bool)) ([]Arg, error) {
	if len(spec) > maxArgSpec {
		return nil, fmt.Errorf("argument string of %d bytes (at most %d)", len(spec), maxArgSpec)
	}
	toks, err := splitArgs(spec)
	if err != nil {
		return nil, err
	}
	if len(toks) > MaxArgs {
		return nil, fmt.Errorf("%d arguments: <bpf/usdt.bpf.h> reads at most %d", len(toks), MaxArgs)
	}
	var parse func(string, uint64, func(string) (uint64, bool)) (Arg, error)
	switch goarch {
	case "amd64":
		parse = parseX86
	case "arm64":
		parse = parseArm64
	default:
		return nil, fmt.Errorf("USDT arguments of %s binaries are not supported (amd64 and arm64 are)", goarch)
	}
	args := make([]Arg, 0, len(toks))
	for _, t := range toks {
		a, err := parse(t, pc, sym)
		if err != nil {
			return nil, fmt.Errorf("argument %d %q: %w", len(args)+1, t, err)
		}
		a.Text = t
		args = append(args, a)
	}
	return args, nil
}

// splitArgs splits an argument string at spaces that are not inside
// brackets or parentheses ("8@[sp, 8]" is one argument).
func splitArgs(s string) ([]string, error) {
	var out []string
	depth, start := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			if depth == 0 {
				return nil, fmt.Errorf("unbalanced %q in %q", c, s)
			}
			depth--
		case (c == ' ' || c == '\t') && depth == 0:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets in %q", s)
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out, nil
}

// sizeAndLoc splits "SIZE@LOCATION" and derives Signed and BitShift.
func sizeAndLoc(t string) (Arg, string, error) {
	sz, loc, ok := strings.Cut(t, "@")
	if !ok {
		return Arg{}, "", errors.New("want SIZE@LOCATION (e.g. -4@%eax)")
	}
	n, err := strconv.Atoi(sz)
	if err != nil {
		return Arg{}, "", fmt.Errorf("bad size %q", sz)
	}
	var a Arg
	if n < 0 {
		a.Signed, n = true, -n
	}
	switch n {
	case 1, 2, 4, 8:
	default:
		return Arg{}, "", fmt.Errorf("size %s: want 1, 2, 4 or 8 bytes, optionally negative (signed)", sz)
	}
	a.BitShift = int8(64 - 8*n)
	if loc == "" {
		return Arg{}, "", errors.New("no location after '@'")
	}
	return a, loc, nil
}

func parseInt(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if n, err := strconv.ParseInt(s, 0, 64); err == nil {
		return n, nil
	}
	// Unsigned constants above MaxInt64 keep their bits.
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return int64(n), nil
}

// x86Regs maps every name of a general purpose register (64, 32, 16 and
// low 8 bit) to offsetof(struct pt_regs, reg) on x86_64
// (arch/x86/include/asm/ptrace.h; the layout is ABI: ptrace exposes it).
var x86Regs = func() map[string]int16 {
	m := map[string]int16{"rip": 128, "eip": 128}
	for _, r := range []struct {
		names []string
		off   int16
	}{
		{[]string{"rax", "eax", "ax", "al"}, 80},
		{[]string{"rbx", "ebx", "bx", "bl"}, 40},
		{[]string{"rcx", "ecx", "cx", "cl"}, 88},
		{[]string{"rdx", "edx", "dx", "dl"}, 96},
		{[]string{"rsi", "esi", "si", "sil"}, 104},
		{[]string{"rdi", "edi", "di", "dil"}, 112},
		{[]string{"rbp", "ebp", "bp", "bpl"}, 32},
		{[]string{"rsp", "esp", "sp", "spl"}, 152},
	} {
		for _, n := range r.names {
			m[n] = r.off
		}
	}
	// r8..r15 and their d/w/b forms.
	for i, off := range []int16{8: 72, 9: 64, 10: 56, 11: 48, 12: 24, 13: 16, 14: 8, 15: 0} {
		if i < 8 {
			continue
		}
		base := "r" + strconv.Itoa(i)
		for _, suf := range []string{"", "d", "w", "b"} {
			m[base+suf] = off
		}
	}
	return m
}()

// X86RegOffset returns offsetof(struct pt_regs, REG) on x86_64 for a
// register name without its '%' (rax, eax, ax, al, r8d, rip, ...).
func X86RegOffset(name string) (int16, bool) {
	off, ok := x86Regs[name]
	return off, ok
}

func x86Reg(s string) (int16, error) {
	name, ok := strings.CutPrefix(s, "%")
	if !ok {
		return 0, fmt.Errorf("register %q lacks '%%'", s)
	}
	off, ok := x86Regs[name]
	if !ok {
		switch name {
		case "ah", "bh", "ch", "dh":
			return 0, fmt.Errorf("high byte register %%%s is not supported by <bpf/usdt.bpf.h>", name)
		}
		return 0, fmt.Errorf("unknown x86_64 register %%%s", name)
	}
	return off, nil
}

// parseX86 parses one x86_64 argument: SIZE@$IMM, SIZE@%REG,
// SIZE@OFF(%REG), SIZE@(%REG) or SIZE@SYM[+-OFF](%rip).
func parseX86(t string, pc uint64, sym func(string) (uint64, bool)) (Arg, error) {
	a, loc, err := sizeAndLoc(t)
	if err != nil {
		return Arg{}, err
	}
	switch {
	case strings.HasPrefix(loc, "$"):
		n, err := parseInt(loc[1:])
		if err != nil {
			return Arg{}, err
		}
		a.Type, a.ValOff = ArgConst, uint64(n)
		return a, nil
	case strings.HasPrefix(loc, "%"):
		if a.RegOff, err = x86Reg(loc); err != nil {
			return Arg{}, err
		}
		a.Type = ArgReg
		return a, nil
	}
	open := strings.IndexByte(loc, '(')
	if open < 0 || !strings.HasSuffix(loc, ")") {
		return Arg{}, errors.New("want $IMM, %REG or OFFSET(%REG)")
	}
	disp, inner := loc[:open], loc[open+1:len(loc)-1]
	if strings.Contains(inner, ",") {
		return Arg{}, errors.New("scaled-index operands (base,index,scale) are not supported by <bpf/usdt.bpf.h>")
	}
	if a.RegOff, err = x86Reg(inner); err != nil {
		return Arg{}, err
	}
	a.Type = ArgRegDeref
	if inner == "%rip" || inner == "%eip" {
		// SYM(%rip) addresses SYM. The uprobe sees the instruction pointer
		// at the probe, so read at ip + (SYM - pc), which holds wherever
		// the binary is loaded.
		addr, err := ripTarget(disp, sym)
		if err != nil {
			return Arg{}, err
		}
		a.ValOff = addr - pc
		return a, nil
	}
	if disp != "" {
		n, err := parseInt(disp)
		if err != nil {
			return Arg{}, err
		}
		a.ValOff = uint64(n)
	}
	return a, nil
}

// ripTarget resolves the displacement of a %rip-relative operand:
// SYM, SYM+N or SYM-N.
func ripTarget(disp string, sym func(string) (uint64, bool)) (uint64, error) {
	name, add := disp, int64(0)
	if i := strings.LastIndexAny(disp, "+-"); i > 0 {
		n, err := parseInt(disp[i+1:])
		if err != nil {
			return 0, err
		}
		if disp[i] == '-' {
			n = -n
		}
		name, add = disp[:i], n
	}
	if name == "" || (name[0] >= '0' && name[0] <= '9') || name[0] == '-' {
		return 0, fmt.Errorf("%%rip-relative operand %q names no symbol", disp)
	}
	if sym == nil {
		return 0, fmt.Errorf("%%rip-relative operand %q: no symbol table to resolve %s", disp, name)
	}
	addr, ok := sym(name)
	if !ok {
		return 0, fmt.Errorf("%%rip-relative operand: symbol %s is not in the binary's symbol tables", name)
	}
	return addr + uint64(add), nil
}

// Arm64RegOffset returns offsetof(struct pt_regs, REG) on arm64 for x0..x30
// (or w0..w30) and sp: struct user_pt_regs { u64 regs[31]; u64 sp; ... }
// starts struct pt_regs.
func Arm64RegOffset(name string) (int16, bool) {
	if name == "sp" {
		return 31 * 8, true
	}
	if len(name) < 2 || (name[0] != 'x' && name[0] != 'w') {
		return 0, false
	}
	n, err := strconv.Atoi(name[1:])
	if err != nil || n < 0 || n > 30 || strconv.Itoa(n) != name[1:] {
		return 0, false
	}
	return int16(n * 8), true
}

func arm64Reg(s string) (int16, error) {
	off, ok := Arm64RegOffset(s)
	if !ok {
		return 0, fmt.Errorf("unknown arm64 register %q", s)
	}
	return off, nil
}

// parseArm64 parses one arm64 argument: SIZE@IMM, SIZE@REG,
// SIZE@[REG] or SIZE@[REG, OFF].
func parseArm64(t string, _ uint64, _ func(string) (uint64, bool)) (Arg, error) {
	a, loc, err := sizeAndLoc(t)
	if err != nil {
		return Arg{}, err
	}
	if strings.HasPrefix(loc, "[") {
		if !strings.HasSuffix(loc, "]") {
			return Arg{}, errors.New("want [REG] or [REG, OFFSET]")
		}
		reg, off, hasOff := strings.Cut(loc[1:len(loc)-1], ",")
		if a.RegOff, err = arm64Reg(strings.TrimSpace(reg)); err != nil {
			return Arg{}, err
		}
		a.Type = ArgRegDeref
		if hasOff {
			n, err := parseInt(strings.TrimPrefix(strings.TrimSpace(off), "#"))
			if err != nil {
				return Arg{}, err
			}
			a.ValOff = uint64(n)
		}
		return a, nil
	}
	imm := strings.TrimPrefix(loc, "#")
	if imm != "" && (imm[0] == '-' || (imm[0] >= '0' && imm[0] <= '9')) {
		n, err := parseInt(imm)
		if err != nil {
			return Arg{}, err
		}
		a.Type, a.ValOff = ArgConst, uint64(n)
		return a, nil
	}
	if a.RegOff, err = arm64Reg(loc); err != nil {
		return Arg{}, err
	}
	a.Type = ArgReg
	return a, nil
}

package usdt

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestParseArgsX86(t *testing.T) {
	syms := map[string]uint64{"counter": 0x4010, "table": 0x5000}
	lookup := func(s string) (uint64, bool) { v, ok := syms[s]; return v, ok }
	neg := func(n int64) uint64 { return uint64(n) }
	for _, tc := range []struct {
		spec string
		want Arg
	}{
		{"-4@%eax", Arg{Type: ArgReg, RegOff: 80, Signed: true, BitShift: 32}},
		{"8@%rax", Arg{Type: ArgReg, RegOff: 80, BitShift: 0}},
		{"2@%ax", Arg{Type: ArgReg, RegOff: 80, BitShift: 48}},
		{"1@%al", Arg{Type: ArgReg, RegOff: 80, BitShift: 56}},
		{"-1@%sil", Arg{Type: ArgReg, RegOff: 104, Signed: true, BitShift: 56}},
		{"4@%edi", Arg{Type: ArgReg, RegOff: 112, BitShift: 32}},
		{"8@%rbx", Arg{Type: ArgReg, RegOff: 40}},
		{"8@%rcx", Arg{Type: ArgReg, RegOff: 88}},
		{"8@%rdx", Arg{Type: ArgReg, RegOff: 96}},
		{"8@%rsp", Arg{Type: ArgReg, RegOff: 152}},
		{"8@%r8", Arg{Type: ArgReg, RegOff: 72}},
		{"-4@%r9d", Arg{Type: ArgReg, RegOff: 64, Signed: true, BitShift: 32}},
		{"2@%r10w", Arg{Type: ArgReg, RegOff: 56, BitShift: 48}},
		{"1@%r11b", Arg{Type: ArgReg, RegOff: 48, BitShift: 56}},
		{"8@%r12", Arg{Type: ArgReg, RegOff: 24}},
		{"8@%r13", Arg{Type: ArgReg, RegOff: 16}},
		{"8@%r14", Arg{Type: ArgReg, RegOff: 8}},
		{"8@%r15", Arg{Type: ArgReg, RegOff: 0}},
		{"-4@$5", Arg{Type: ArgConst, ValOff: 5, Signed: true, BitShift: 32}},
		{"-4@$-9", Arg{Type: ArgConst, ValOff: neg(-9), Signed: true, BitShift: 32}},
		{"8@$0x10", Arg{Type: ArgConst, ValOff: 16}},
		{"8@$18446744073709551615", Arg{Type: ArgConst, ValOff: ^uint64(0)}},
		{"8@-8(%rbp)", Arg{Type: ArgRegDeref, RegOff: 32, ValOff: neg(-8)}},
		{"-4@-1204(%rbp)", Arg{Type: ArgRegDeref, RegOff: 32, ValOff: neg(-1204), Signed: true, BitShift: 32}},
		{"4@16(%rsp)", Arg{Type: ArgRegDeref, RegOff: 152, ValOff: 16, BitShift: 32}},
		{"8@(%rdi)", Arg{Type: ArgRegDeref, RegOff: 112}},
		// %rip-relative, the probe at pc 0x1000: ip + (sym - pc).
		{"-8@counter(%rip)", Arg{Type: ArgRegDeref, RegOff: 128, ValOff: 0x3010, Signed: true}},
		{"4@table+8(%rip)", Arg{Type: ArgRegDeref, RegOff: 128, ValOff: 0x4008, BitShift: 32}},
		{"4@table-8(%rip)", Arg{Type: ArgRegDeref, RegOff: 128, ValOff: 0x3ff8, BitShift: 32}},
	} {
		args, err := ParseArgs("amd64", tc.spec, 0x1000, lookup)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		tc.want.Text = tc.spec
		if len(args) != 1 || args[0] != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.spec, args, tc.want)
		}
	}
}

func TestParseArgsArm64(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Arg
	}{
		{"-4@x0", Arg{Type: ArgReg, RegOff: 0, Signed: true, BitShift: 32}},
		{"8@x30", Arg{Type: ArgReg, RegOff: 240}},
		{"4@w3", Arg{Type: ArgReg, RegOff: 24, BitShift: 32}},
		{"8@sp", Arg{Type: ArgReg, RegOff: 248}},
		{"8@[sp, 8]", Arg{Type: ArgRegDeref, RegOff: 248, ValOff: 8}},
		{"-4@[x29, -12]", Arg{Type: ArgRegDeref, RegOff: 29 * 8, ValOff: uint64(0xfffffffffffffff4), Signed: true, BitShift: 32}},
		{"8@[x1]", Arg{Type: ArgRegDeref, RegOff: 8}},
		{"8@[x2, #16]", Arg{Type: ArgRegDeref, RegOff: 16, ValOff: 16}},
		{"-4@5", Arg{Type: ArgConst, ValOff: 5, Signed: true, BitShift: 32}},
		{"-8@-3", Arg{Type: ArgConst, ValOff: uint64(0xfffffffffffffffd), Signed: true}},
		{"2@#7", Arg{Type: ArgConst, ValOff: 7, BitShift: 48}},
	} {
		args, err := ParseArgs("arm64", tc.spec, 0, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		tc.want.Text = tc.spec
		if len(args) != 1 || args[0] != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.spec, args, tc.want)
		}
	}
}

func TestParseArgsLists(t *testing.T) {
	args, err := ParseArgs("arm64", "-4@x0 8@[sp, 8]  -4@5", 0, nil)
	if err != nil || len(args) != 3 || args[1].Text != "8@[sp, 8]" {
		t.Fatalf("got %+v, %v", args, err)
	}
	args, err = ParseArgs("amd64", "", 0, nil)
	if err != nil || len(args) != 0 {
		t.Fatalf("empty: %+v, %v", args, err)
	}
	args, err = ParseArgs("amd64", strings.Repeat("8@%rax ", MaxArgs), 0, nil)
	if err != nil || len(args) != MaxArgs {
		t.Fatalf("%d args: %v", len(args), err)
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct{ arch, spec, want string }{
		{"amd64", "%eax", "want SIZE@LOCATION"},
		{"amd64", "3@%eax", "want 1, 2, 4 or 8"},
		{"amd64", "x@%eax", "bad size"},
		{"amd64", "4@", "no location"},
		{"amd64", "4@%foo", "unknown x86_64 register %foo"},
		{"amd64", "1@%ah", "high byte register %ah"},
		{"amd64", "4@eax", "want $IMM"},
		{"amd64", "4@$x", "bad number"},
		{"amd64", "4@8(%rax,%rbx,4)", "scaled-index"},
		{"amd64", "4@8(%rip)", "names no symbol"},
		{"amd64", "4@nosuch(%rip)", "symbol nosuch is not in"},
		{"amd64", "4@(%rax", "unbalanced"},
		{"amd64", strings.Repeat("8@%rax ", MaxArgs+1), "at most 12"},
		{"arm64", "4@x31", "unknown arm64 register"},
		{"arm64", "4@[x1, y]", "bad number"},
		{"arm64", "4@[q1]", "unknown arm64 register"},
		{"riscv64", "4@a0", "not supported"},
	} {
		_, err := ParseArgs(tc.arch, tc.spec, 0, func(string) (uint64, bool) { return 0, false })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: got %v, want %q", tc.arch, tc.spec, err, tc.want)
		}
	}
}

// The x86_64 table agrees with struct pt_regs in this kernel's BTF.
func TestX86RegsMatchKernelBTF(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86_64 kernel BTF")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("no kernel BTF")
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skip(err)
	}
	var regs *btf.Struct
	if err := spec.TypeByName("pt_regs", &regs); err != nil {
		t.Fatal(err)
	}
	members := map[string]int16{}
	for _, m := range regs.Members {
		members[m.Name] = int16(m.Offset.Bytes())
	}
	for _, r := range []string{"r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "ip", "sp"} {
		name := r
		if len(r) == 2 && r[0] != 'r' {
			name = "r" + r // rax, rbp, ...
		}
		if r == "ip" {
			name = "rip"
		}
		got, ok := X86RegOffset(name)
		want, have := members[r]
		if !ok || !have || got != want {
			t.Errorf("%%%s: table says %d, kernel BTF %d (found %v %v)", name, got, want, ok, have)
		}
	}
}

func TestSpecMarshal(t *testing.T) {
	args, err := ParseArgs("amd64", "-4@%eax 8@-8(%rbp) 1@$-56", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Spec{Args: args, Cookie: 0x1122334455667788}
	b, err := s.MarshalBinary()
	if err != nil || len(b) != SpecSize {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	bo := binary.NativeEndian
	// arg 1: -8(%rbp)
	if bo.Uint64(b[16:]) != uint64(0xfffffffffffffff8) || bo.Uint32(b[24:]) != uint32(ArgRegDeref) || int16(bo.Uint16(b[28:])) != 32 || b[30] != 0 || b[31] != 0 {
		t.Errorf("arg 1 bytes % x", b[16:32])
	}
	// arg 0: signed, shift 32
	if b[14] != 1 || b[15] != 32 || bo.Uint32(b[8:]) != uint32(ArgReg) || bo.Uint16(b[12:]) != 80 {
		t.Errorf("arg 0 bytes % x", b[0:16])
	}
	if bo.Uint64(b[192:]) != s.Cookie || bo.Uint16(b[200:]) != 3 {
		t.Errorf("cookie/arg_cnt bytes % x", b[192:208])
	}
	if !bytes.Equal(b[48:192], make([]byte, 144)) {
		t.Error("unused args are not zero")
	}
	if _, err := (&Spec{Args: make([]Arg, MaxArgs+1)}).MarshalBinary(); err == nil {
		t.Error("13 args accepted")
	}
	if s.String() != "-4@%eax 8@-8(%rbp) 1@$-56" {
		t.Errorf("String %q", s.String())
	}
}

func TestAbsIP(t *testing.T) {
	maps := `55d0c3e00000-55d0c3e01000 r--p 00000000 fd:01 1234   /usr/bin/prog
55d0c3e01000-55d0c3e02000 r-xp 00001000 fd:01 1234   /usr/bin/prog
55d0c3e02000-55d0c3e03000 r--p 00002000 fd:01 1234   /usr/bin/prog
7f0000000000-7f0000010000 r-xp 00001000 fd:01 99     /usr/lib/other.so
garbage line
`
	m := Mapping{Major: 0xfd, Minor: 1, Inode: 1234}
	ip, err := AbsIP(strings.NewReader(maps), m, 0x1054)
	if err != nil || ip != 0x55d0c3e01054 {
		t.Errorf("got %#x, %v", ip, err)
	}
	if _, err := AbsIP(strings.NewReader(maps), m, 0x2054); err == nil {
		t.Error("offset in a non-executable mapping accepted")
	}
	if _, err := AbsIP(strings.NewReader(maps), Mapping{Major: 0xfd, Minor: 1, Inode: 5}, 0x1054); err == nil {
		t.Error("other file accepted")
	}
}

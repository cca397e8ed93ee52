package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// sdtHeader skips the test when <sys/sdt.h> (systemtap-sdt-dev) is missing.
func sdtHeader(t *testing.T, gcc string) {
	t.Helper()
	cmd := exec.Command(gcc, "-E", "-x", "c", "-o", os.DevNull, "-")
	cmd.Stdin = strings.NewReader("#include <sys/sdt.h>\n")
	if err := cmd.Run(); err != nil {
		testenv.Missing(t, "<sys/sdt.h> is missing (make test-deps installs systemtap-sdt-dev)")
	}
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]string{}
)

// fixture compiles testdata sources with gcc once per test binary run:
// kind "pie" (gcc's default on Debian), "nopie", "O0", "lib" or "tiny".
func fixture(t *testing.T, kind string) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	sdtHeader(t, gcc)
	p, err := buildFixture(kind)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func buildFixture(kind string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[kind]; ok {
		return p, nil
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "ecc-usdt-test-")
		if err != nil {
			return "", err
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, kind)
	src := []string{"testdata/probes.c", "testdata/sem.c"}
	var args []string
	switch kind {
	case "pie":
		args = []string{"-O2", "-fPIE", "-pie"}
	case "nopie":
		args = []string{"-O2", "-fno-PIE", "-no-pie"}
	case "O0":
		args = []string{"-O0"}
	case "lib":
		args, src = []string{"-O2", "-fPIC", "-shared"}, []string{"testdata/lib.c"}
		out += ".so"
	case "tiny":
		args = []string{"-O2", "-nostdlib", "-static", "-fno-PIE", "-no-pie", "-fno-asynchronous-unwind-tables",
			"-Wl,-N", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments"}
		src = []string{"testdata/tiny.c"}
	default:
		return "", fmt.Errorf("unknown fixture %s", kind)
	}
	cmd := exec.Command("gcc", append(append(args, "-o", out), src...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", kind, err, b)
	}
	built[kind] = out
	return out, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// symbolFileOffset finds a symbol and translates its address to a file
// offset through its section (not through segments, as the package does).
func symbolFileOffset(t *testing.T, path, name string) uint64 {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, _ := ef.Symbols()
	for _, s := range syms {
		if s.Name == name {
			sec := ef.Sections[s.Section]
			return s.Value - sec.Addr + sec.Offset
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0
}

func sites(t *testing.T, f *File, provider, name string) []Site {
	t.Helper()
	s, err := f.Sites(provider, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every site's file offset holds the probe's nop, in executables (PIE and
// not) and shared libraries.
func TestSitesPointAtNops(t *testing.T) {
	if !isX86() {
		t.Skip("the nop check reads x86 code")
	}
	for _, kind := range []string{"pie", "nopie", "O0", "lib"} {
		t.Run(kind, func(t *testing.T) {
			path := fixture(t, kind)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			wantType := elf.ET_DYN
			if kind == "nopie" {
				wantType = elf.ET_EXEC
			}
			if f.Type != wantType || f.GOARCH != "amd64" {
				t.Errorf("type %s arch %s, want %s amd64", f.Type, f.GOARCH, wantType)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Notes) == 0 {
				t.Fatal("no notes")
			}
			for _, n := range f.Notes {
				ss := sites(t, f, n.Provider, n.Name)
				for _, s := range ss {
					if s.Offset >= uint64(len(data)) || data[s.Offset] != 0x90 {
						t.Errorf("%s:%s at pc %#x: file offset %#x does not hold a nop", n.Provider, n.Name, s.PC, s.Offset)
					}
				}
			}
		})
	}
}

func isX86() bool { return runtime.GOARCH == "amd64" }

func TestProbesAndArgs(t *testing.T) {
	path := fixture(t, "pie")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ecc:consts", "ecc:global", "ecc:none", "ecc:sem", "ecc:tick", "ecc:twice"}
	if got := f.Probes(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("probes %v, want %v", got, want)
	}

	// Inlined twice: two sites, at different offsets.
	tw := sites(t, f, "ecc", "twice")
	if len(tw) != 2 || tw[0].Offset == tw[1].Offset {
		t.Errorf("ecc:twice sites %+v, want 2 distinct", tw)
	}

	// Constants: 5, -1 and (unsigned char)200, which gcc writes as 1@$-56.
	c := sites(t, f, "ecc", "consts")[0].Args
	if len(c) != 3 {
		t.Fatalf("consts args %+v", c)
	}
	for i, w := range []struct {
		val    int64
		signed bool
		shift  int8
	}{{5, true, 32}, {-1, true, 32}, {-56, false, 56}} {
		a := c[i]
		if a.Type != ArgConst || int64(a.ValOff) != w.val || a.Signed != w.signed || a.BitShift != w.shift {
			t.Errorf("consts arg %d = %+v, want const %d signed %v shift %d", i, a, w.val, w.signed, w.shift)
		}
		// What bpf_usdt_arg computes from it.
		if got, want := widen(a, a.ValOff), []int64{5, -1, 200}[i]; got != want {
			t.Errorf("consts arg %d reads as %d, want %d", i, got, want)
		}
	}

	// No arguments.
	if n := sites(t, f, "ecc", "none"); len(n[0].Args) != 0 {
		t.Errorf("ecc:none args %+v", n[0].Args)
	}

	// Registers at -O2: tick's i and i*3 in registers, 4 and 8 bytes, signed.
	tk := sites(t, f, "ecc", "tick")[0].Args
	if len(tk) != 2 || tk[0].Type != ArgReg || tk[1].Type != ArgReg || tk[0].Size() != 4 || tk[1].Size() != 8 || !tk[0].Signed || !tk[1].Signed {
		t.Errorf("tick args %+v", tk)
	}

	// The semaphore: its file offset is that of the variable.
	sm := sites(t, f, "ecc", "sem")
	if want := symbolFileOffset(t, path, "ecc_sem_semaphore"); sm[0].SemOffset != want || sm[0].Semaphore == 0 {
		t.Errorf("semaphore at file offset %#x (address %#x), want %#x", sm[0].SemOffset, sm[0].Semaphore, want)
	}
	if tk := sites(t, f, "ecc", "tick"); tk[0].SemOffset != 0 || tk[0].Semaphore != 0 {
		t.Errorf("tick has a semaphore: %+v", tk[0])
	}

	// %rip-relative: read at ip + (ecc_global - pc).
	g := sites(t, f, "ecc", "global")[0]
	ga := g.Args[0]
	if isX86() {
		if ga.Type != ArgRegDeref || ga.RegOff != 128 {
			t.Fatalf("global arg %+v, want a deref of ip", ga)
		}
		ef, _ := elf.Open(path)
		defer ef.Close()
		syms, _ := ef.Symbols()
		var addr uint64
		for _, s := range syms {
			if s.Name == "ecc_global" {
				addr = s.Value
			}
		}
		if g.PC+ga.ValOff != addr {
			t.Errorf("pc %#x + %#x = %#x, want ecc_global at %#x", g.PC, ga.ValOff, g.PC+ga.ValOff, addr)
		}
	}

	if _, err := f.Sites("ecc", "nope"); !errors.Is(err, ErrNoProbe) || !strings.Contains(err.Error(), "ecc:tick") {
		t.Errorf("missing probe: %v", err)
	}
}

// widen is what bpf_usdt_arg does with a value read for an argument.
func widen(a Arg, val uint64) int64 {
	val <<= uint(a.BitShift)
	if a.Signed {
		return int64(val) >> uint(a.BitShift)
	}
	return int64(val >> uint(a.BitShift))
}

// An arm64 binary built here by clang and lld: the notes, offsets and
// arguments of another architecture.
func TestArm64Binary(t *testing.T) {
	clang := testenv.Clang(t)
	lld, err := exec.LookPath("ld.lld")
	if err != nil {
		if lld, err = exec.LookPath("ld.lld-" + strings.TrimPrefix(filepath.Base(clang), "clang-")); err != nil {
			testenv.Missing(t, "no ld.lld to link an arm64 binary (make deps installs lld)")
		}
	}
	sdt := ""
	for _, d := range []string{"/usr/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu"} {
		if _, err := os.Stat(filepath.Join(d, "sys/sdt.h")); err == nil {
			sdt = d
		}
	}
	if sdt == "" {
		testenv.Missing(t, "<sys/sdt.h> is missing (make test-deps installs systemtap-sdt-dev)")
	}
	bin := filepath.Join(t.TempDir(), "arm64")
	cmd := exec.Command(clang, "--target=aarch64-linux-gnu", "-O2", "-nostdlib", "-static", "-fuse-ld="+lld,
		"-idirafter", sdt, "-o", bin, "testdata/arm64.c")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	f, err := Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	if f.GOARCH != "arm64" || f.Type != elf.ET_EXEC {
		t.Fatalf("arch %s type %s", f.GOARCH, f.Type)
	}
	data, _ := os.ReadFile(bin)
	for _, probe := range []string{"tick", "args"} {
		for _, s := range sites(t, f, "ecc", probe) {
			// The probe is an arm64 nop: d503201f.
			if s.Offset+4 > uint64(len(data)) || binary.LittleEndian.Uint32(data[s.Offset:]) != 0xd503201f {
				t.Errorf("%s at %#x: file offset %#x holds no nop", probe, s.PC, s.Offset)
			}
		}
	}
	tick := sites(t, f, "ecc", "tick")[0].Args
	if len(tick) != 2 || tick[0].Type != ArgRegDeref || tick[0].Size() != 8 || tick[1].Type != ArgConst || tick[1].ValOff != 5 || !tick[1].Signed {
		t.Errorf("tick args %+v", tick)
	}
	args := sites(t, f, "ecc", "args")[0].Args
	if len(args) != 3 || args[1].Size() != 4 || args[2].Size() != 8 {
		t.Errorf("args %+v", args)
	}
	for _, a := range append(tick, args...) {
		if a.Type != ArgConst && (a.RegOff < 0 || a.RegOff > 31*8) {
			t.Errorf("%s: reg_off %d outside arm64's pt_regs.regs and sp", a.Text, a.RegOff)
		}
	}
}

// At -O0 arguments are on the stack: derefs of %rbp.
func TestStackArgs(t *testing.T) {
	if !isX86() {
		t.Skip("x86 code")
	}
	f, err := Open(fixture(t, "O0"))
	if err != nil {
		t.Fatal(err)
	}
	tk := sites(t, f, "ecc", "tick")[0].Args
	if tk[0].Type != ArgRegDeref || tk[0].RegOff != 32 || int64(tk[0].ValOff) >= 0 {
		t.Errorf("tick arg 0 at -O0: %+v, want a negative offset from %%rbp", tk[0])
	}
}

func TestSharedLibrary(t *testing.T) {
	path := fixture(t, "lib")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sites(t, f, "ecclib", "call")
	if len(s) != 1 || len(s[0].Args) != 2 || s[0].Args[1].Size() != 2 || !s[0].Args[1].Signed {
		t.Errorf("ecclib:call sites %+v", s)
	}
}

// A prelinked binary moved .stapsdt.base; notes shift by the same delta.
func TestPrelinkBase(t *testing.T) {
	path := fixture(t, "pie")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	base := ef.Section(".stapsdt.base")
	if base == nil {
		t.Fatal("no .stapsdt.base")
	}
	// Rewrite every note's base address as if the notes were written for a
	// base 0x100 lower: the probes then sit 0x100 higher than the notes say.
	notes := ef.Section(".note.stapsdt")
	secData, _ := notes.Data()
	for off := 0; off+12 <= len(secData); {
		namesz := int(binary.LittleEndian.Uint32(secData[off:]))
		descsz := int(binary.LittleEndian.Uint32(secData[off+4:]))
		desc := int(notes.Offset) + off + 12 + (namesz+3)&^3
		binary.LittleEndian.PutUint64(data[desc+8:], base.Addr-0x100)
		binary.LittleEndian.PutUint64(data[desc:], binary.LittleEndian.Uint64(data[desc:])-0x100)
		off += 12 + (namesz+3)&^3 + (descsz+3)&^3
	}
	moved, err := NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig.Notes {
		if moved.Notes[i].PC != orig.Notes[i].PC {
			t.Errorf("note %d: pc %#x after the base adjustment, want %#x", i, moved.Notes[i].PC, orig.Notes[i].PC)
		}
	}
}

// Executables without probes have no notes; other files are refused.
func TestNoProbesAndNotELF(t *testing.T) {
	f, err := Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Notes) != 0 {
		t.Errorf("the test binary has %d USDT notes", len(f.Notes))
	}
	if _, err := f.Sites("a", "b"); !errors.Is(err, ErrNoProbe) || !strings.Contains(err.Error(), "it has none") {
		t.Errorf("got %v", err)
	}
	if _, err := NewFile(strings.NewReader("#!/bin/sh\n")); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("script: %v", err)
	}
}

package symbol

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

const testProgram = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int ecc_test_function(int x) {
	return x * 3 + 1;
}

int main(void) {
	/* dlsym gives libc's own getpid, not a PLT stub of the executable. */
	void *libc_getpid = dlsym(RTLD_DEFAULT, "getpid");
	printf("%d %p %p\n", (int)getpid(), (void *)ecc_test_function, libc_getpid);
	fflush(stdout);
	pause();
	return ecc_test_function(1);
}
`

type child struct {
	pid            uint32
	fn, libcGetpid uint64
	bin            string
	cmd            *exec.Cmd
}

// compile builds testProgram with the given gcc flags.
func compile(t *testing.T, name string, flags ...string) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(src, []byte(testProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"-O1", "-g0", "-o", bin, src}, flags...)
	args = append(args, "-ldl")
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// start runs bin and reads what it prints. The process is killed at the
// end of the test.
func start(t *testing.T, bin string) *child {
	t.Helper()
	cmd := exec.Command(bin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the output of %s: %v", bin, err)
	}
	c := &child{bin: bin, cmd: cmd}
	var fn, gp string
	if _, err := fmt.Sscan(line, &c.pid, &fn, &gp); err != nil {
		t.Fatalf("output %q: %v", line, err)
	}
	c.fn = parseAddr(t, fn)
	c.libcGetpid = parseAddr(t, gp)
	if c.pid != uint32(cmd.Process.Pid) {
		t.Fatalf("program says pid %d, is %d", c.pid, cmd.Process.Pid)
	}
	return c
}

func parseAddr(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil || v == 0 {
		t.Fatalf("bad address %q", s)
	}
	return v
}

func elfType(t *testing.T, path string) elf.Type {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Type
}

// isGetpid accepts libc's names for getpid.
func isGetpid(name string) bool {
	return strings.TrimLeft(name, "_") == "getpid" || strings.HasSuffix(name, "_getpid")
}

func TestUserSymbols(t *testing.T) {
	for _, v := range []struct {
		name  string
		flags []string
		typ   elf.Type
	}{
		{"nopie", []string{"-fno-pie", "-no-pie"}, elf.ET_EXEC},
		{"pie", []string{"-fPIE", "-pie"}, elf.ET_DYN},
	} {
		t.Run(v.name, func(t *testing.T) {
			bin := compile(t, "prog-"+v.name, v.flags...)
			if typ := elfType(t, bin); typ != v.typ {
				t.Fatalf("gcc %v built %v, want %v", v.flags, typ, v.typ)
			}
			c := start(t, bin)
			r := NewResolver()
			defer r.Close()

			base := filepath.Base(bin)
			for _, off := range []uint64{0, 3} {
				want := fmt.Sprintf("ecc_test_function+0x%x (%s)", off, base)
				if got := r.User(c.pid, c.fn+off); got != want {
					t.Errorf("User(ecc_test_function+%d) = %q, want %q", off, got, want)
				}
			}
			s, ok := r.UserSymbol(c.pid, c.fn+1)
			if !ok || s.Name != "ecc_test_function" || s.Offset != 1 || s.Module != bin {
				t.Errorf("UserSymbol = %+v, %v", s, ok)
			}

			s, ok = r.UserSymbol(c.pid, c.libcGetpid+2)
			if !ok || !isGetpid(s.Name) || s.Offset != 2 || !strings.Contains(filepath.Base(s.Module), "libc") {
				t.Errorf("libc getpid+2: %+v, %v", s, ok)
			}
			got := r.User(c.pid, c.libcGetpid)
			if !strings.HasSuffix(got, "+0x0 ("+filepath.Base(s.Module)+")") || !isGetpid(strings.Split(got, "+")[0]) {
				t.Errorf("User(getpid) = %q", got)
			}
			t.Logf("%s; %s", r.User(c.pid, c.fn+3), got)

			// Not in any mapping, the null page and an anonymous or special
			// mapping.
			if got := r.User(c.pid, 8); got != Unknown {
				t.Errorf("User(8) = %q", got)
			}
			if got := r.User(c.pid, stackAddr(t, c.pid)); got != "[unknown] ([stack])" {
				t.Errorf("User(stack) = %q", got)
			}

			// Once the process has exited, a new resolver knows nothing.
			c.cmd.Process.Kill()
			c.cmd.Wait()
			r2 := NewResolver()
			if got := r2.User(c.pid, c.fn); got != Unknown {
				t.Errorf("after exit: %q", got)
			}
			// The first resolver still has the maps it read.
			if got := r.User(c.pid, c.fn); !strings.HasPrefix(got, "ecc_test_function+0x0") {
				t.Errorf("after exit, cached: %q", got)
			}
		})
	}
}

// stackAddr returns an address in the [stack] mapping of pid.
func stackAddr(t *testing.T, pid uint32) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range parseMaps(string(data), nil) {
		if m.path == "[stack]" {
			return m.start + 16
		}
	}
	t.Fatal("no [stack] mapping")
	return 0
}

func TestUserStripped(t *testing.T) {
	bin := compile(t, "prog-stripped", "-fPIE", "-pie", "-s")
	c := start(t, bin)
	r := NewResolver()
	if got, want := r.User(c.pid, c.fn), "[unknown] (prog-stripped)"; got != want {
		t.Errorf("stripped: %q, want %q", got, want)
	}
	// libc is found as usual.
	if s, ok := r.UserSymbol(c.pid, c.libcGetpid); !ok || !isGetpid(s.Name) {
		t.Errorf("libc getpid from a stripped program: %+v", s)
	}
}

// TestUserDeleted resolves the addresses of a program whose file was
// deleted while it runs, through /proc/PID/map_files.
func TestUserDeleted(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "reading /proc/PID/map_files needs root")
	}
	bin := compile(t, "prog-deleted", "-fPIE", "-pie")
	c := start(t, bin)
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	r := NewResolver()
	if got, want := r.User(c.pid, c.fn+1), "ecc_test_function+0x1 (prog-deleted (deleted))"; got != want {
		t.Errorf("deleted: %q, want %q", got, want)
	}
}

// TestUserRefresh checks that a library mapped after the first lookup is
// found once the maps are read again.
func TestUserRefresh(t *testing.T) {
	bin := compile(t, "prog-refresh", "-fPIE", "-pie")
	c := start(t, bin)
	r := NewResolver()
	now := time.Now()
	r.user.now = func() time.Time { return now }
	// Pretend the first read of the maps missed the executable.
	r.UserSymbol(c.pid, c.fn)
	p := r.user.procs[c.pid]
	var kept []mapping
	for _, m := range p.maps {
		if m.path != bin {
			kept = append(kept, m)
		}
	}
	p.maps = kept
	if _, ok := r.UserSymbol(c.pid, c.fn); ok {
		t.Fatal("found a symbol in a mapping that was removed")
	}
	now = now.Add(refreshEvery)
	if s, ok := r.UserSymbol(c.pid, c.fn); !ok || s.Name != "ecc_test_function" {
		t.Errorf("after refresh: %+v, %v", s, ok)
	}
}

//go:noinline
func goTestFunction(x int) int { return x*7 + 3 }

// TestUserSelf resolves a function of the test binary (Go builds it with
// a symbol table) and one of the vDSO, in this process: no gcc needed.
func TestUserSelf(t *testing.T) {
	pid := uint32(os.Getpid())
	r := NewResolver()
	fn := uint64(reflect.ValueOf(goTestFunction).Pointer())
	exe, _ := os.Executable()
	ef, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	hasSymtab := ef.Section(".symtab") != nil
	ef.Close()
	s, ok := r.UserSymbol(pid, fn+2)
	if hasSymtab {
		if !ok || !strings.HasSuffix(s.Name, ".goTestFunction") || s.Offset != 2 {
			t.Errorf("UserSymbol(goTestFunction+2) = %+v, %v", s, ok)
		}
		if want := s.Name + "+0x2 (" + filepath.Base(exe) + ")"; r.User(pid, fn+2) != want {
			t.Errorf("User = %q, want %q", r.User(pid, fn+2), want)
		}
	} else {
		// go test strips its binaries unless built with go test -c.
		if want := "[unknown] (" + filepath.Base(exe) + ")"; r.User(pid, fn+2) != want {
			t.Errorf("stripped test binary: User = %q, want %q", r.User(pid, fn+2), want)
		}
	}

	// The vDSO: find a function in it by parsing it here.
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		testenv.Missing(t, "no /proc: %v", err)
	}
	var vdso *mapping
	maps := parseMaps(string(data), nil)
	for i := range maps {
		if maps[i].path == "[vdso]" {
			vdso = &maps[i]
		}
	}
	if vdso == nil {
		t.Skip("this process has no [vdso]")
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, vdso.end-vdso.start)
	_, err = mem.ReadAt(img, int64(vdso.start))
	mem.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var target elf.Symbol
	for _, d := range dyn {
		if elf.ST_TYPE(d.Info) == elf.STT_FUNC && strings.Contains(d.Name, "clock_gettime") && d.Size > 4 {
			target = d
			break
		}
	}
	if target.Name == "" {
		t.Skip("no clock_gettime in the vDSO")
	}
	var load *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			load = p
			break
		}
	}
	addr := vdso.start + (target.Value - load.Vaddr + load.Off) + 4
	s, ok = r.UserSymbol(pid, addr)
	if !ok || !strings.Contains(s.Name, "clock_gettime") || s.Offset != 4 || s.Module != "[vdso]" {
		t.Errorf("vDSO %s+4: %+v, %v", target.Name, s, ok)
	}
	t.Logf("vDSO: %s", r.User(pid, addr))
}

func TestParseMaps(t *testing.T) {
	data := `55d4c4a3b000-55d4c4a3d000 r--p 00000000 08:01 1234                       /usr/bin/cat
7f0000000000-7f0000001000 r-xp 00002000 fd:01 99 /opt/my app/lib with spaces.so
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
7f1000000000-7f1000004000 rwxp 00000000 00:00 0 
garbage
5-4 r--p 00000000 00:00 0 /backwards
`
	got := parseMaps(data, nil)
	want := []mapping{
		{start: 0x55d4c4a3b000, end: 0x55d4c4a3d000, off: 0, inode: 1234, path: "/usr/bin/cat"},
		{start: 0x7f0000000000, end: 0x7f0000001000, off: 0x2000, inode: 99, path: "/opt/my app/lib with spaces.so"},
		{start: 0x7f1000000000, end: 0x7f1000004000},
		{start: 0x7ffc00000000, end: 0x7ffc00021000, path: "[stack]"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	p := &process{maps: got}
	for addr, want := range map[uint64]string{
		0x55d4c4a3b000: "/usr/bin/cat", 0x55d4c4a3cfff: "/usr/bin/cat", 0x55d4c4a3d000: "none",
		0x1000: "none", 0x7ffc00000010: "[stack]", 0xffffffffffffffff: "none",
	} {
		name := "none"
		if m := p.find(addr); m != nil {
			name = m.path
		}
		if name != want {
			t.Errorf("find(%#x) = %q, want %q", addr, name, want)
		}
	}
}

func TestIndexSymbols(t *testing.T) {
	fn := elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC)
	weak := elf.ST_INFO(elf.STB_WEAK, elf.STT_FUNC)
	local := elf.ST_INFO(elf.STB_LOCAL, elf.STT_FUNC)
	syms := indexSymbols([]elf.Symbol{
		{Name: "__getpid", Info: fn, Section: 16, Value: 0x100, Size: 8},
		{Name: "getpid", Info: weak, Section: 16, Value: 0x100, Size: 8},
		{Name: "__GI___getpid", Info: local, Section: 16, Value: 0x100, Size: 8},
		{Name: "undefined", Info: fn, Section: elf.SHN_UNDEF, Value: 0},
		{Name: "object", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_OBJECT), Section: 20, Value: 0x300, Size: 8},
		{Name: "outer", Info: fn, Section: 16, Value: 0x200, Size: 0x100},
		{Name: "inner", Info: local, Section: 16, Value: 0x210, Size: 0x10},
		{Name: "nosize", Info: fn, Section: 16, Value: 0x400},
		{Name: "ifunc", Info: elf.ST_INFO(elf.STB_GLOBAL, 10), Section: 16, Value: 0x500, Size: 4},
	})
	f := &elfFile{syms: syms}
	for vaddr, want := range map[uint64]string{
		0x50: "", 0x100: "getpid", 0x107: "getpid", 0x108: "", 0x1ff: "",
		0x200: "outer", 0x215: "inner", 0x220: "outer", 0x2ff: "outer", 0x300: "",
		0x410: "nosize", 0x502: "ifunc", 0x504: "",
	} {
		s, ok := f.lookup(vaddr)
		if s.name != want || ok != (want != "") {
			t.Errorf("lookup(%#x) = %q, %v, want %q", vaddr, s.name, ok, want)
		}
	}
}

func TestVaddr(t *testing.T) {
	f := &elfFile{loads: []elfLoad{
		{off: 0, filesz: 0x1000, vaddr: 0x400000},
		{off: 0x1000, filesz: 0x2345, vaddr: 0x401000},
		{off: 0x4000, filesz: 0x100, vaddr: 0x404e10},
	}}
	for off, want := range map[uint64]uint64{0x10: 0x400010, 0x1abc: 0x401abc, 0x4010: 0x404e20} {
		if got, ok := f.vaddr(off); !ok || got != want {
			t.Errorf("vaddr(%#x) = %#x, %v, want %#x", off, got, ok, want)
		}
	}
	if _, ok := f.vaddr(0x3400); ok {
		t.Error("vaddr(0x3400) is in no segment")
	}
}

func TestUserString(t *testing.T) {
	for _, tt := range []struct {
		s    Symbol
		want string
	}{
		{Symbol{}, "[unknown]"},
		{Symbol{Module: "/usr/lib/libc.so.6"}, "[unknown] (libc.so.6)"},
		{Symbol{Module: "[heap]"}, "[unknown] ([heap])"},
		{Symbol{Name: "main", Offset: 0x1f, Module: "/bin/x"}, "main+0x1f (x)"},
		{Symbol{Name: "f", Module: "/memfd:jit (deleted)"}, "f+0x0 (memfd:jit (deleted))"},
	} {
		if got := tt.s.userString(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestResolverClose(t *testing.T) {
	r := NewResolver()
	pid := uint32(os.Getpid())
	fn := uint64(reflect.ValueOf(goTestFunction).Pointer())
	if s, _ := r.UserSymbol(pid, fn); s.Module == "" {
		t.Fatalf("no mapping for %#x in this process", fn)
	}
	r.KernelErr()
	r.Close()
	if len(r.user.procs) != 0 || len(r.user.files) != 0 {
		t.Error("Close kept caches")
	}
	if s, _ := r.UserSymbol(pid, fn); s.Module == "" {
		t.Error("Resolver unusable after Close")
	}
	r.KernelErr() // loads again
}

func TestProcessEviction(t *testing.T) {
	c := newUserCache()
	c.proc = t.TempDir() // no processes at all
	for pid := range uint32(maxProcs + 10) {
		c.lookup(pid, 0x1000)
	}
	if len(c.procs) != maxProcs {
		t.Errorf("%d processes cached, want %d", len(c.procs), maxProcs)
	}
	if c.procs[0] != nil || c.procs[maxProcs+9] == nil {
		t.Error("evicted the wrong processes")
	}
}

func BenchmarkUserLookup(b *testing.B) {
	r := NewResolver()
	pid := uint32(os.Getpid())
	fn := uint64(reflect.ValueOf(goTestFunction).Pointer())
	r.User(pid, fn)
	for b.Loop() {
		r.UserSymbol(pid, fn+1)
	}
}

// TestUserDebugFile resolves a stripped program with its separate debug
// file, found by build ID.
func TestUserDebugFile(t *testing.T) {
	objcopy := testenv.Tool(t, "objcopy")
	bin := compile(t, "prog-debuglink", "-fPIE", "-pie", "-Wl,--build-id")
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	id := buildID(ef)
	ef.Close()
	if len(id) < 2 {
		t.Fatal("gcc -Wl,--build-id gave no build ID")
	}
	root := t.TempDir()
	h := fmt.Sprintf("%x", id)
	debug := filepath.Join(root, "usr/lib/debug/.build-id", h[:2], h[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(debug), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--only-keep-debug", bin, debug}, {"--strip-all", bin}} {
		if out, err := exec.Command(objcopy, args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy %v: %v\n%s", args, err, out)
		}
	}
	c := start(t, bin)
	r := NewResolver()
	if got, want := r.User(c.pid, c.fn), "[unknown] (prog-debuglink)"; got != want {
		t.Errorf("without the debug file: %q, want %q", got, want)
	}
	r.Close()
	r.user.root = root
	if got, want := r.User(c.pid, c.fn+2), "ecc_test_function+0x2 (prog-debuglink)"; got != want {
		t.Errorf("with the debug file: %q, want %q", got, want)
	}
}

func TestResolverConcurrent(t *testing.T) {
	r := NewResolver()
	pid := uint32(os.Getpid())
	fn := uint64(reflect.ValueOf(goTestFunction).Pointer())
	want := r.User(pid, fn)
	kaddr := uint64(0xffffffff81000010)
	wantK, _ := r.KernelSymbol(kaddr)
	done := make(chan bool)
	for range 8 {
		go func() {
			defer func() { done <- true }()
			for i := range 200 {
				if got := r.User(pid, fn); got != want {
					t.Errorf("User = %q, want %q", got, want)
					return
				}
				if got, _ := r.KernelSymbols().Symbol(kaddr); got != wantK {
					t.Errorf("Kernel = %+v, want %+v", got, wantK)
					return
				}
				if i == 100 {
					r.Close()
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

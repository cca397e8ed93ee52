package attach

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// elfFixtures compiles testdata/elf: libver.so (versioned f, a global and
// a static pick, an IFUNC, two static dup) and vertarget as a PIE (with
// -rdynamic, so one and two are in .dynsym and .symtab) and as a non-PIE
// executable (loaded at 0x400000: addresses differ from file offsets).
func elfFixtures(t *testing.T) (lib, pie, nopie string) {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	dir := t.TempDir()
	src := func(f string) string { return filepath.Join("testdata", "elf", f) }
	lib = filepath.Join(dir, "libver.so")
	pie, nopie = filepath.Join(dir, "vt_pie"), filepath.Join(dir, "vt_nopie")
	for _, args := range [][]string{
		{"-O1", "-g", "-shared", "-fPIC", "-Wl,--version-script=" + src("libver.map"), "-o", lib, src("libver.c"), src("libver_local.c"), src("libver_dup.c")},
		{"-O1", "-g", "-fPIE", "-pie", "-rdynamic", "-o", pie, src("vertarget.c"), "-L", dir, "-lver", "-Wl,-rpath," + dir},
		{"-O1", "-g", "-fno-pie", "-no-pie", "-o", nopie, src("vertarget.c"), "-L", dir, "-lver", "-Wl,-rpath," + dir},
	} {
		if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return lib, pie, nopie
}

// Symbol resolution without a kernel: which symbol each name picks, and
// the errors.
func TestResolveSymbol(t *testing.T) {
	lib, pie, nopie := elfFixtures(t)
	off := func(file, name string) uint64 {
		t.Helper()
		fn, err := resolveSymbol(file, name)
		if err != nil {
			t.Fatalf("resolveSymbol(%s, %s): %v", filepath.Base(file), name, err)
		}
		return fn.offset
	}
	if a, b, c := off(lib, "f"), off(lib, "f@@VER_2"), off(lib, "f@VER_1"); a != b || a == c {
		t.Errorf("f at %#x, f@@VER_2 at %#x, f@VER_1 at %#x: want f = f@@VER_2 != f@VER_1", a, b, c)
	}
	if a, b := off(lib, "pick"), off(lib, "pick@@VER_2"); a != b {
		t.Errorf("pick at %#x, pick@@VER_2 at %#x: want the global one", a, b)
	}
	for _, bin := range []string{pie, nopie} {
		if a, b := off(bin, "one"), off(bin, "two"); a == b || a == 0 || b == 0 {
			t.Errorf("%s: one at %#x, two at %#x", filepath.Base(bin), a, b)
		}
	}
	for _, c := range []struct{ file, name, want string }{
		{lib, "ifn", "ifn in " + lib + " is an IFUNC"},
		{lib, "ifn", "(ifn_impl)"},
		{lib, "dup", "dup is ambiguous in " + lib},
		{lib, "f@VER_9", "symbol f@VER_9 not found"},
		{lib, "nope", "symbol nope not found in " + lib},
		{pie, "printf", "printf is not defined in " + pie + " but in a shared library"},
		{pie, "f", "f is not defined in " + pie},
		{"testdata/elf/libver.c", "f", "is not an ELF executable or library"},
	} {
		_, err := resolveSymbol(c.file, c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("resolveSymbol(%s, %s) = %v, want an error containing %q", filepath.Base(c.file), c.name, err, c.want)
		}
	}
}

// Probes placed through ecli's resolution fire on the right function: each
// target function is called a distinct number of times, and the probe must
// count exactly that many calls.
func TestKernelUprobeSymbols(t *testing.T) {
	k := kernelEnv(t)
	lib, pie, nopie := elfFixtures(t)
	prog := k.mustLoad(t, "uprobe_bare")
	// Calls: f 3, f@VER_1 5, pick 7, static pick 11, ifn 13, one 17, two 18.
	args := []string{"3", "5", "7", "11", "13", "17"}
	for _, c := range []struct {
		bin, sym string
		want     uint64
	}{
		{lib, "f", 3},
		{lib, "f@@VER_2", 3},
		{lib, "f@VER_1", 5},
		{lib, "pick", 7},
		{lib, "ifn_impl", 13},
		{pie, "one", 17},
		{pie, "two", 18},
		{nopie, "one", 17},
		{nopie, "two", 18},
	} {
		t.Run(filepath.Base(c.bin)+":"+c.sym, func(t *testing.T) {
			target := exec.Command(pie, args...)
			if c.bin == nopie {
				target = exec.Command(nopie, args...)
			}
			stdin, _ := target.StdinPipe()
			if err := target.Start(); err != nil {
				t.Fatal(err)
			}
			defer target.Process.Kill()
			p := &Plan{Program: "uprobe_bare", Section: "uprobe", Kind: Uprobe, Binary: c.bin, Symbol: c.sym, PID: target.Process.Pid}
			l, err := Attach(prog, p)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			d := k.delta(t, func() {
				stdin.Write([]byte("g"))
				stdin.Close()
				if err := target.Wait(); err != nil {
					t.Fatalf("target: %v", err)
				}
			}, sUprobe)[0]
			if d != c.want {
				t.Errorf("%s: %d hits, want %d", l, d, c.want)
			}
		})
	}
}

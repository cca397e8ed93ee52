package elfstrip

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// compile builds a BPF object with DWARF (no vmlinux.h needed).
func compile(t *testing.T, src string) []byte {
	t.Helper()
	clang := testenv.Clang(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "p.bpf.c")
	os.WriteFile(in, []byte(src), 0o644)
	out := filepath.Join(dir, "p.o")
	cmd := exec.Command(clang, "-g", "-O2", "-target", "bpf", "-c", in, "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const prog = `
typedef unsigned int u32;
typedef unsigned long long u64;
#define SEC(n) __attribute__((section(n), used))
struct { int (*type)[2]; int (*max_entries)[16]; u32 *key; u64 *value; } counts SEC(".maps");
static long (*lookup)(void *map, const void *key) = (void *)1;
const volatile u32 filter = 7;
u64 total;
struct event { u32 pid; char comm[16]; } *keep;
static __attribute__((noinline)) int helper(int x) { return x * (int)filter; }
SEC("tp/syscalls/sys_enter_getpid") int a(void *ctx) { u32 k = 0; total += helper(3); return lookup(&counts, &k) != 0; }
SEC("tp/syscalls/sys_enter_getppid") int b(void *ctx) { return helper((int)total); }
char LICENSE[] SEC("license") = "GPL";
`

func sections(t *testing.T, obj []byte) map[string][]byte {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || s.Type == elf.SHT_NULL {
			out[s.Name] = nil
			continue
		}
		b, err := s.Data()
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		out[s.Name] = b
	}
	return out
}

func TestStripMatchesLLVMStrip(t *testing.T) {
	obj := compile(t, prog)
	got, err := StripDebug(obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) >= len(obj) {
		t.Fatalf("stripped object %d bytes, original %d", len(got), len(obj))
	}
	gs := sections(t, got)
	for name := range gs {
		if strings.HasPrefix(name, ".debug") || strings.HasPrefix(name, ".rel.debug") {
			t.Errorf("kept %s", name)
		}
	}
	for _, want := range []string{".BTF", ".BTF.ext", ".maps", ".rodata", "license", "tp/syscalls/sys_enter_getpid", ".reltp/syscalls/sys_enter_getpid", ".symtab"} {
		if _, ok := gs[want]; !ok {
			t.Errorf("lost %s", want)
		}
	}
	// Compare with llvm-strip where installed: same sections, same data
	// (except symbol and relocation tables, whose order may differ).
	strip, err := exec.LookPath("llvm-strip-19")
	if err != nil {
		strip, err = exec.LookPath("llvm-strip")
	}
	if err == nil {
		p := filepath.Join(t.TempDir(), "o")
		os.WriteFile(p, obj, 0o644)
		if b, err := exec.Command(strip, "--strip-debug", p).CombinedOutput(); err != nil {
			t.Fatalf("llvm-strip: %v %s", err, b)
		}
		ref, _ := os.ReadFile(p)
		rs := sections(t, ref)
		delete(rs, ".llvm_addrsig")
		var gn, rn []string
		for n := range gs {
			gn = append(gn, n)
		}
		for n := range rs {
			rn = append(rn, n)
		}
		if len(gn) != len(rn) {
			t.Errorf("sections: ours %v, llvm-strip %v", gn, rn)
		}
		for n, b := range rs {
			if n == ".symtab" || n == ".strtab" || strings.HasPrefix(n, ".rel") {
				continue
			}
			if !bytes.Equal(gs[n], b) {
				t.Errorf("section %s differs from llvm-strip's", n)
			}
		}
	}
	// Both load to the same collection spec.
	want, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	have, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("stripped object does not load: %v", err)
	}
	for name, wp := range want.Programs {
		hp := have.Programs[name]
		if hp == nil {
			t.Fatalf("lost program %s", name)
		}
		if !reflect.DeepEqual(insString(wp.Instructions), insString(hp.Instructions)) {
			t.Errorf("program %s: instructions differ", name)
		}
	}
	if len(want.Maps) != len(have.Maps) || len(want.Variables) != len(have.Variables) {
		t.Errorf("maps %d→%d, variables %d→%d", len(want.Maps), len(have.Maps), len(want.Variables), len(have.Variables))
	}
	// Stripping twice changes nothing.
	again, err := StripDebug(got)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("second strip changed the object (%v)", err)
	}
}

func insString(ins interface{ String() string }) string { return ins.String() }

func TestStripErrors(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("hello"), []byte("\x7fELF\x01\x01\x01"), append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 80)...)} {
		if _, err := StripDebug(in); err == nil {
			t.Errorf("no error for %q", in)
		}
	}
}

func FuzzStripDebug(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	// An object built from prog by clang, with DWARF.
	if obj, err := os.ReadFile("testdata/prog.o"); err == nil {
		f.Add(obj)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := StripDebug(in)
		if err != nil {
			return
		}
		// Whatever strips must be a readable ELF that strips to itself.
		if _, err := elf.NewFile(bytes.NewReader(out)); err != nil && bytes.Equal(out, in) == false {
			t.Fatalf("stripped output is not ELF: %v", err)
		}
	})
}

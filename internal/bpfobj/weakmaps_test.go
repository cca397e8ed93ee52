package bpfobj

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// A program using libbpf's <bpf/usdt.bpf.h>, whose two maps are __weak,
// plus a weak map of its own and a weak function.
const usdtSource = `
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, long);
} counts SEC(".maps") __weak;

__weak __hidden int helper(int x) { return x + 1; }

SEC("usdt")
int BPF_USDT(probe, long a)
{
	int k = 0;
	long *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		*v += a + helper(1);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`

func buildObject(t *testing.T) []byte {
	t.Helper()
	clang := testenv.Clang(t)
	if _, err := os.Stat("/usr/include/bpf/usdt.bpf.h"); err != nil {
		testenv.Missing(t, "<bpf/usdt.bpf.h> is missing (make deps installs libbpf-dev)")
	}
	b, err := compileObject(clang, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compileObject(clang, dir string) ([]byte, error) {
	src := filepath.Join(dir, "w.bpf.c")
	if err := os.WriteFile(src, []byte(usdtSource), 0o644); err != nil {
		return nil, err
	}
	obj := filepath.Join(dir, "w.bpf.o")
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	args := []string{"-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_" + arch, "-c", src, "-o", obj}
	// <linux/errno.h> includes <asm/errno.h> from the multiarch folder.
	for _, d := range []string{"/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu"} {
		if _, err := os.Stat(d); err == nil {
			args = append(args, "-idirafter", d)
		}
	}
	if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	return os.ReadFile(obj)
}

func bindings(t *testing.T, obj []byte) map[string]elf.SymBind {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]elf.SymBind{}
	for _, s := range syms {
		m[s.Name] = elf.ST_BIND(s.Info)
	}
	return m
}

func TestLoadSpecWeakMaps(t *testing.T) {
	obj := buildObject(t)
	orig := bytes.Clone(obj)

	// cilium/ebpf alone refuses the object.
	_, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("STB_WEAK")) {
		t.Fatalf("cilium/ebpf accepted weak maps (%v): this helper may be obsolete", err)
	}

	fixed, n := PromoteWeakMaps(obj)
	if n != 3 {
		t.Errorf("promoted %d symbols, want 3 (two usdt maps and counts)", n)
	}
	if !bytes.Equal(obj, orig) {
		t.Fatal("the caller's bytes were modified")
	}
	if len(fixed) != len(obj) {
		t.Fatalf("length %d, want %d", len(fixed), len(obj))
	}
	b := bindings(t, fixed)
	for name, want := range map[string]elf.SymBind{
		"__bpf_usdt_specs": elf.STB_GLOBAL, "__bpf_usdt_ip_to_spec_id": elf.STB_GLOBAL, "counts": elf.STB_GLOBAL,
		// Weak functions stay weak: cilium/ebpf accepts them.
		"helper": elf.STB_WEAK, "bpf_usdt_arg": elf.STB_WEAK,
	} {
		if b[name] != want {
			t.Errorf("%s is %s, want %s", name, b[name], want)
		}
	}
	// Only binding bits changed.
	diff := 0
	for i := range obj {
		if obj[i] != fixed[i] {
			diff++
		}
	}
	if diff != n {
		t.Errorf("%d bytes changed for %d symbols", diff, n)
	}
	if _, again := PromoteWeakMaps(fixed); again != 0 {
		t.Errorf("a second pass promoted %d more", again)
	}

	spec, err := LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"__bpf_usdt_specs", "__bpf_usdt_ip_to_spec_id", "counts"} {
		if spec.Maps[m] == nil {
			t.Errorf("map %s missing", m)
		}
	}
	if ms := spec.Maps["__bpf_usdt_specs"]; ms != nil && (ms.Type != ebpf.Array || ms.ValueSize != 208 || ms.MaxEntries != 256) {
		t.Errorf("__bpf_usdt_specs: %+v", ms)
	}
	p := spec.Programs["probe"]
	if p == nil || p.Type != ebpf.Kprobe {
		t.Fatalf("program probe: %+v", p)
	}

	// Hidden global functions get static linkage, as libbpf gives them.
	hidden := HiddenFuncs(obj)
	for _, f := range []string{"helper", "bpf_usdt_arg", "bpf_usdt_arg_cnt", "bpf_usdt_cookie"} {
		if !hidden[f] {
			t.Errorf("HiddenFuncs lacks %s: %v", f, hidden)
		}
	}
	if hidden["probe"] {
		t.Error("the program itself is not hidden")
	}
	linkage := map[string]btf.FuncLinkage{}
	for i := range p.Instructions {
		if fn := btf.FuncMetadata(&p.Instructions[i]); fn != nil {
			linkage[fn.Name] = fn.Linkage
		}
	}
	for name, want := range map[string]btf.FuncLinkage{"probe": btf.GlobalFunc, "helper": btf.StaticFunc, "bpf_usdt_arg": btf.StaticFunc} {
		if got, ok := linkage[name]; !ok || got != want {
			t.Errorf("%s: linkage %v (present %v), want %v", name, got, ok, want)
		}
	}
}

// Objects without weak maps come back as they are, the same slice.
func TestPromoteNothing(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("not an ELF"), make([]byte, 64)} {
		out, n := PromoteWeakMaps(in)
		if n != 0 || len(out) != len(in) || (len(in) > 0 && &out[0] != &in[0]) {
			t.Errorf("%q: changed", in)
		}
	}
	if _, err := LoadSpec([]byte("junk")); err == nil {
		t.Error("junk loaded")
	}
}

func FuzzPromoteWeakMaps(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	// A real object with weak maps when clang is here.
	for _, c := range []string{"clang-19", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			if b, err := compileObject(p, f.TempDir()); err == nil {
				f.Add(b)
			}
			break
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, n := PromoteWeakMaps(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if len(out) != len(in) {
			t.Fatalf("length %d, want %d", len(out), len(in))
		}
		diff := 0
		for i := range in {
			if in[i] != out[i] {
				diff++
			}
		}
		if diff > n || (n == 0 && diff != 0) {
			t.Fatalf("%d bytes changed, %d symbols promoted", diff, n)
		}
		if _, again := PromoteWeakMaps(out); again != 0 {
			t.Fatalf("not idempotent: %d more", again)
		}
		HiddenFuncs(in)
		// Whatever we produce, reading it returns (maybe an error).
		LoadSpec(in)
	})
}

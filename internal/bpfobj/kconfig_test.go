package bpfobj

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// compile builds C for the BPF target, with nothing but the compiler.
func compile(t *testing.T, src string) []byte {
	t.Helper()
	clang := testenv.Clang(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "p.c"), filepath.Join(dir, "p.o")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-c", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", clang, err, b)
	}
	obj, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

const kconfigSource = `
typedef unsigned int __u32;
#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))
extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_A __kconfig __weak;
extern long long CONFIG_B __kconfig;
extern char CONFIG_S[5] __kconfig __weak;
long long out[4];
__attribute__((section("tracepoint/x"), used))
int prog(void *ctx)
{
	out[0] = LINUX_KERNEL_VERSION;
	out[1] = CONFIG_A;
	out[2] = CONFIG_B;
	out[3] = CONFIG_S[1];
	return 0;
}
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`

func TestHideKconfig(t *testing.T) {
	obj := compile(t, kconfigSource)

	// What this package works around: cilium/ebpf refuses weak kconfig
	// externs while reading the object.
	if _, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj)); err == nil || !strings.Contains(err.Error(), "STB_WEAK") {
		t.Logf("cilium/ebpf now reads weak kconfig externs (%v): is this package still needed?", err)
	}

	orig := bytes.Clone(obj)
	spec, err := LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(obj, orig) {
		t.Fatal("LoadSpec changed the caller's object")
	}
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(KconfigDatasec, &ds); err != nil {
		t.Fatal(err)
	}
	if err := spec.Types.TypeByName(".kconfig", new(*btf.Datasec)); err == nil {
		t.Error(".kconfig still in BTF")
	}
	// The layout cilium/ebpf computes for .kconfig: natural alignment.
	want := map[string][2]uint32{"LINUX_KERNEL_VERSION": {0, 4}, "CONFIG_A": {4, 1}, "CONFIG_B": {8, 8}, "CONFIG_S": {16, 5}}
	if ds.Size != 21 || len(ds.Vars) != len(want) {
		t.Errorf("section size %d, %d vars", ds.Size, len(ds.Vars))
	}
	for _, vs := range ds.Vars {
		name := vs.Type.TypeName()
		if w := want[name]; vs.Offset != w[0] || vs.Size != w[1] {
			t.Errorf("%s at %d size %d, want %v", name, vs.Offset, vs.Size, w)
		}
	}
	// Every BTF type still reads (cilium/ebpf must not look for an ELF
	// section named like the renamed datasec).
	for _, err := range spec.Types.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The loads of the externs are plain symbol references.
	refs := map[string]int{}
	for _, ins := range spec.Programs["prog"].Instructions {
		if ins.OpCode.IsDWordLoad() && ins.Src == asm.R0 && ins.Reference() != "" {
			refs[ins.Reference()]++
		}
	}
	for name := range want {
		if refs[name] != 1 {
			t.Errorf("%d loads reference %s: %v", refs[name], name, refs)
		}
	}

	weak, err := WeakExterns(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !weak["CONFIG_A"] || !weak["CONFIG_S"] || weak["CONFIG_B"] || weak["LINUX_KERNEL_VERSION"] || len(weak) != 2 {
		t.Errorf("weak externs %v", weak)
	}
}

func TestHideKconfigNothingToDo(t *testing.T) {
	obj := compile(t, `
int x;
__attribute__((section("tracepoint/x"), used)) int prog(void *ctx) { return x; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`)
	if got := HideKconfig(obj); &got[0] != &obj[0] {
		t.Error("an object without kconfig externs was copied")
	}
	for _, junk := range [][]byte{nil, []byte("not an ELF"), obj[:100]} {
		if got := HideKconfig(junk); !bytes.Equal(got, junk) {
			t.Errorf("junk %q changed", junk)
		}
	}
	if _, err := WeakExterns([]byte("not an ELF")); err == nil {
		t.Error("WeakExterns accepted junk")
	}
}

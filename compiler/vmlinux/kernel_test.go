package vmlinux

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

const kernelBTF = "/sys/kernel/btf/vmlinux"

func loadKernelSpec(t testing.TB) *btf.Spec {
	t.Helper()
	if _, err := os.Stat(kernelBTF); err != nil {
		testenv.Missing(t, "no kernel BTF: %v", err)
	}
	spec, err := btf.LoadSpec(kernelBTF)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// layoutAsserts returns _Static_asserts checking, for every named struct,
// union and enum of spec, under the name the header gives it, its size, and
// for every named non-bitfield member, including those reached through
// anonymous members, its offset. Typedefs of sized types get a size check.
// Expected values come from the btf.Types; only the (possibly ___N renamed)
// names come from the writer, whose table follows spec.All's order.
func layoutAsserts(t testing.TB, spec *btf.Spec, d *dumper) (string, int) {
	t.Helper()
	var b strings.Builder
	count := 0
	assert := func(expr string, want int64) {
		b.WriteString("_Static_assert(")
		b.WriteString(expr)
		b.WriteString(" == ")
		b.WriteString(strconv.FormatInt(want, 10))
		b.WriteString(", \"\");\n")
		count++
	}
	var members func(cname string, ms []btf.Member, base int64)
	members = func(cname string, ms []btf.Member, base int64) {
		for _, m := range ms {
			if m.BitfieldSize != 0 || m.Offset%8 != 0 {
				continue
			}
			off := base + int64(m.Offset/8)
			if m.Name != "" {
				assert("__builtin_offsetof("+cname+", "+m.Name+")", off)
				continue
			}
			switch inner := m.Type.(type) {
			case *btf.Struct:
				members(cname, inner.Members, off)
			case *btf.Union:
				members(cname, inner.Members, off)
			}
		}
	}
	id := int32(0)
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := typ.(*btf.Void); ok {
			continue
		}
		id++
		n := &d.nodes[id]
		if _, tag := typ.(*btf.TypeTag); !tag && typ.TypeName() != n.name {
			t.Fatalf("type table out of step with spec.All at %v", typ)
		}
		if n.name == "" {
			continue
		}
		if !n.resolved {
			switch typ.(type) {
			case *btf.Struct, *btf.Union, *btf.Enum, *btf.Typedef:
				if n.name != "__builtin_va_list" {
					t.Errorf("%v was never written", typ)
				}
			}
			continue
		}
		switch typ := typ.(type) {
		case *btf.Struct:
			cname := "struct " + n.renamed
			assert("sizeof("+cname+")", int64(typ.Size))
			members(cname, typ.Members, 0)
		case *btf.Union:
			cname := "union " + n.renamed
			assert("sizeof("+cname+")", int64(typ.Size))
			members(cname, typ.Members, 0)
		case *btf.Enum:
			if len(typ.Values) > 0 {
				assert("sizeof(enum "+n.renamed+")", int64(typ.Size))
			}
		case *btf.Typedef:
			if usesVaList(typ) {
				// The compiler's own va_list, not the kernel's.
				continue
			}
			if sz, err := btf.Sizeof(typ); err == nil && sz > 0 {
				assert("sizeof("+n.renamed+")", int64(sz))
			}
		}
	}
	return b.String(), count
}

// usesVaList reports whether typ is or aliases an array of
// __builtin_va_list, which has a different size on the BPF target.
func usesVaList(typ btf.Type) bool {
	for range 64 {
		switch t := typ.(type) {
		case *btf.Typedef:
			if t.Name == "__builtin_va_list" {
				return true
			}
			typ = t.Type
		case *btf.Array:
			typ = t.Type
		case *btf.Const:
			typ = t.Type
		case *btf.Volatile:
			typ = t.Type
		default:
			return false
		}
	}
	return false
}

func TestKernel(t *testing.T) {
	spec := loadKernelSpec(t)

	var buf bytes.Buffer
	d, err := write(&buf, nil, func(d *dumper) error { return d.load(spec) })
	if err != nil {
		t.Fatal(err)
	}
	header := buf.String()

	t.Run("layout", func(t *testing.T) {
		clang := testenv.Clang(t)
		asserts, n := layoutAsserts(t, spec, d)
		t.Logf("header %d bytes, %d layout assertions, %s", len(header), n, clang)
		compileC(t, clang, header+"\n"+asserts)
	})

	t.Run("deterministic", func(t *testing.T) {
		var again bytes.Buffer
		if err := Write(&again, spec, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Error("two runs over the same BTF produced different output")
		}
	})

	t.Run("raw", func(t *testing.T) {
		// The raw decoder must agree with the btf.Spec path byte for byte.
		f, err := os.Open(kernelBTF)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var raw bytes.Buffer
		if err := WriteFromReader(&raw, f, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), raw.Bytes()) {
			t.Errorf("WriteFromReader and Write differ (%d vs %d bytes)", raw.Len(), buf.Len())
		}
	})

	t.Run("bpftool", func(t *testing.T) {
		// The header must declare the same named types as bpftool's.
		bpftool, err := exec.LookPath("bpftool")
		if err != nil {
			for _, p := range []string{"/usr/sbin/bpftool", "/sbin/bpftool"} {
				if _, serr := os.Stat(p); serr == nil {
					bpftool, err = p, nil
					break
				}
			}
		}
		if err != nil {
			testenv.Missing(t, "no bpftool to compare with: %v", err)
		}
		out, err := exec.Command(bpftool, "btf", "dump", "file", kernelBTF, "format", "c").Output()
		if err != nil {
			t.Fatalf("bpftool: %v", err)
		}
		// bpftool 7.1 predates kfunc declarations: compare the rest.
		rest, _ := splitKfuncs(t, header)
		ours, theirs := topLevelNames(rest), topLevelNames(string(out))
		if len(theirs) < 1000 {
			t.Fatalf("only %d names found in bpftool output: parser broken?", len(theirs))
		}
		var missing, extra []string
		for name := range theirs {
			if !ours[name] {
				missing = append(missing, name)
			}
		}
		for name := range ours {
			if !theirs[name] {
				extra = append(extra, name)
			}
		}
		slices.Sort(missing)
		slices.Sort(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("named types differ from bpftool's (%d vs %d names)\nonly in bpftool (%d): %s\nonly in ours (%d): %s",
				len(theirs), len(ours), len(missing), truncate(strings.Join(missing, ", "), 4000),
				len(extra), truncate(strings.Join(extra, ", "), 4000))
		}
		t.Logf("%d named types, same set as bpftool", len(ours))
	})
}

// kernelKfuncs returns the names of the functions the kernel's BTF tags
// "bpf_kfunc", as cilium/ebpf reads them (declaration tags become Func.Tags).
func kernelKfuncs(t testing.TB, spec *btf.Spec) map[string]*btf.Func {
	t.Helper()
	fns := make(map[string]*btf.Func)
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		if fn, ok := typ.(*btf.Func); ok && slices.Contains(fn.Tags, "bpf_kfunc") {
			fns[fn.Name] = fn
		}
	}
	return fns
}

func TestKernelKfuncs(t *testing.T) {
	spec := loadKernelSpec(t)
	fns := kernelKfuncs(t, spec)
	if len(fns) == 0 {
		testenv.Missing(t, "this kernel's BTF tags no kfunc (Linux < 6.11 or pahole < 1.27)")
	}
	var buf bytes.Buffer
	if err := Write(&buf, spec, nil); err != nil {
		t.Fatal(err)
	}
	header := buf.String()
	rest, decls := splitKfuncs(t, header)
	lines := strings.Split(strings.TrimSuffix(decls, "\n"), "\n")
	t.Logf("%d kfuncs tagged in BTF, %d declarations, header %d bytes (%d without kfuncs)", len(fns), len(lines), len(header), len(rest))
	if len(lines) != len(fns) {
		t.Errorf("%d declarations for %d kfuncs", len(lines), len(fns))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "extern ") || !strings.HasSuffix(l, " __weak __ksym;") {
			t.Errorf("not a kfunc declaration: %q", l)
		}
	}
	byName := make(map[string]string, len(fns))
	for name := range fns {
		for _, l := range lines {
			if strings.Contains(l, " "+name+"(") || strings.Contains(l, "*"+name+"(") {
				byName[name] = l
				break
			}
		}
		if byName[name] == "" {
			t.Errorf("kfunc %s not declared", name)
		}
	}
	// Prototypes as the kernel defines them (where this kernel has them).
	for name, want := range map[string]string{
		"bpf_task_from_pid":    "extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;",
		"bpf_task_release":     "extern void bpf_task_release(struct task_struct *p) __weak __ksym;",
		"bpf_rbtree_add_impl":  "extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node, bool (*less)(struct bpf_rb_node *, const struct bpf_rb_node *), void *meta__ign, u64 off) __weak __ksym;",
		"bpf_cast_to_kern_ctx": "extern __bpf_fastcall void *bpf_cast_to_kern_ctx(void *obj) __weak __ksym;",
		"bpf_dynptr_is_null":   "extern bool bpf_dynptr_is_null(const struct bpf_dynptr *p) __weak __ksym;",
	} {
		if fns[name] == nil {
			t.Logf("this kernel has no kfunc %s", name)
			continue
		}
		if byName[name] != want {
			t.Errorf("kfunc %s:\n got %s\nwant %s", name, byName[name], want)
		}
	}

	t.Run("no kfuncs", func(t *testing.T) {
		var without bytes.Buffer
		if err := Write(&without, spec, &Options{NoKfuncs: true}); err != nil {
			t.Fatal(err)
		}
		if without.String() != rest {
			t.Error("the header with NoKfuncs is not the header minus its kfunc block")
		}
	})

	t.Run("compile", func(t *testing.T) {
		// With libbpf's headers after it (bpf_helpers.h defines __ksym
		// unconditionally: the fallback must be identical), and with a
		// program's own declarations of the kfuncs it calls, without
		// __weak, as programs written for older headers have them.
		if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
			testenv.Missing(t, "no libbpf headers: %v", err)
		}
		if fns["bpf_task_from_pid"] == nil || fns["bpf_task_release"] == nil {
			t.Skip("this kernel lacks bpf_task_from_pid or bpf_task_release")
		}
		const prog = `
#include <bpf/bpf_helpers.h>
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
SEC("tp_btf/sched_process_exec")
int prog(void *ctx) {
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return 0;
}
`
		for _, clang := range clangs(t) {
			t.Run(filepath.Base(clang), func(t *testing.T) {
				compileC(t, clang, header+prog, "-Werror")
			})
		}
	})
}

// BenchmarkWrite measures Write alone on the kernel's BTF (types already
// inflated by cilium/ebpf).
func BenchmarkWrite(b *testing.B) {
	spec := loadKernelSpec(b)
	var buf bytes.Buffer
	if err := Write(&buf, spec, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, spec, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAndWrite measures what "bpftool btf dump file
// /sys/kernel/btf/vmlinux format c" does: parse the BTF and write the
// header.
func BenchmarkLoadAndWrite(b *testing.B) {
	loadKernelSpec(b)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		spec, err := btf.LoadSpec(kernelBTF)
		if err != nil {
			b.Fatal(err)
		}
		if err := Write(&buf, spec, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFromReader measures the fast path end to end: read the
// kernel's BTF and write the header.
func BenchmarkWriteFromReader(b *testing.B) {
	loadKernelSpec(b)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		f, err := os.Open(kernelBTF)
		if err != nil {
			b.Fatal(err)
		}
		err = WriteFromReader(&buf, f, nil)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}
